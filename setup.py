"""ament_python package definition; also installable with pip into a venv."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "spatial_ros"


def _files(pattern: str) -> list[str]:
    return sorted(p for p in glob(pattern, recursive=True) if not p.endswith("/"))


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench", "bench.*"]),
    package_data={PACKAGE: ["assets/**/*", "checkpoints/**/*"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", _files("launch/*.py")),
        (f"share/{PACKAGE}/config", _files("config/*.yaml") + _files("config/*.rviz")),
        (f"share/{PACKAGE}/config/train", _files("config/train/*.yaml")),
        (f"share/{PACKAGE}/config/gate", _files("config/gate/*.yaml")),
        (f"share/{PACKAGE}/urdf", _files("urdf/*.urdf") + _files("urdf/*.xacro")),
    ],
    python_requires=">=3.10",
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="spatial_ros developers",
    maintainer_email="dev@spatial-ros.org",
    description="Language-driven robot manipulation on ROS 2 with a depth-aware Mamba policy.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "spatial-ros = spatial_ros.cli.main:main",
            "camera_node = spatial_ros.nodes.camera_node:main",
            "sim_node = spatial_ros.nodes.sim_node:main",
            "perception_node = spatial_ros.nodes.perception_node:main",
            "executor_node = spatial_ros.nodes.executor_node:main",
        ],
    },
)
