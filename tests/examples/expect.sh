# Sourced by the doc example scripts. `... | expect TEXT` passes the answer through and
# fails the script unless the answer contains TEXT (a fixed string, not a regex).
expect() {
  local out
  out=$(cat)
  printf '%s\n' "$out"
  if ! grep -qF -- "$1" <<<"$out"; then
    printf 'expected the answer to contain: %s\n' "$1" >&2
    exit 1
  fi
}
