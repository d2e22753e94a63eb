#!/usr/bin/env bash
# Print the path of a Python interpreter of the given minor version (e.g. 3.12):
# on PATH first, then pyenv's versions. Exit 1 with a clear message if none.
set -euo pipefail
want="${1:?usage: find-python.sh 3.12}"
for candidate in "python${want}" "$HOME/.pyenv/versions/${want}"*/bin/"python${want}" \
    /usr/bin/"python${want}" /usr/local/bin/"python${want}"; do
  path=$(command -v "$candidate" 2>/dev/null || true)
  [[ -n "$path" ]] || continue
  if "$path" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '${want}' else 1)" 2>/dev/null; then
    echo "$path"
    exit 0
  fi
done
echo "python${want} not found: install it (pyenv install ${want}, or your system's python${want} package)" >&2
exit 1
