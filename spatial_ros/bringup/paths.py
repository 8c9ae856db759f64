"""Where config/, urdf/ and launch/ live: the source tree, or share/spatial_ros when installed."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

PACKAGE = "spatial_ros"


@cache
def share_dir() -> Path:
    """The directory holding config/, urdf/ and launch/.

    A source checkout (or editable install) wins; otherwise the ament index of an installed
    package; otherwise ``<prefix>/share/spatial_ros`` of this interpreter.
    """
    source = Path(__file__).resolve().parents[2]
    if (source / "package.xml").is_file() and (source / "config").is_dir():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # ament_index absent or package not in the index
        return Path(sys.prefix) / "share" / PACKAGE


def config_path(name: str) -> Path:
    return share_dir() / "config" / name


def urdf_path(robot: str) -> Path:
    return share_dir() / "urdf" / f"{robot}.urdf"
