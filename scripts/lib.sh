# Shared by scripts/run and scripts/test: a Python 3.11+ virtualenv in .venv.
ensure_venv() {
  if [ -x .venv/bin/python ]; then return; fi
  local py
  py=$(command -v python3.11 || command -v python3 || true)
  if [ -z "$py" ]; then
    echo "需要 Python 3.11：sudo apt-get install python3 python3-venv" >&2; exit 1
  fi
  if ! "$py" -m venv .venv 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$py" -m venv .venv
    else
      echo "无法创建虚拟环境：sudo apt-get install python3-venv" >&2; exit 1
    fi
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
}
