#!/usr/bin/env bash
# Build the partnerdb Lambda layer zip, reproducibly, and verify it.
#
#   ./build_layer.sh [--arch x86_64|arm64] [--python 3.11|3.12|3.13] [--slim] [--out DIR]
#
# Output: DIR/partnerdb-layer-<python>-<arch>[-slim].zip (DIR defaults to build/), holding
#   python/partnerdb        copied from layer/partnerdb (without partnerdb/testing, the test
#                           kit, which ships only in the wheel)
#   python/handler_sdk      copied from handler_sdk: attach the layer, decorate, done
#   python/<dependencies>   layer/requirements.lock (the full closure, pinned with sha256
#                           hashes by pip-compile from layer/requirements.txt; `make lock`),
#                           installed with --require-hashes as wheels for manylinux2014 <arch>
#                           and CPython <python>
#   **/__pycache__/*.cpython-3XX.pyc   when that interpreter is on this machine
# --slim leaves out what the Lambda runtime already provides (boto3, botocore, s3transfer,
# jmespath, urllib3, python-dateutil, six) and keeps pynamodb, aws-xray-sdk and wrapt.
#
# Same inputs give a byte-identical zip (sorted entries, fixed times and modes, hash-based
# bytecode compiled with a fixed hash seed), so publishing can skip an unchanged layer.
# Installed wheels are cached in build/cache (PARTNERDB_LAYER_CACHE overrides), so repeat
# builds need no network. PARTNERDB_TARGET_PYTHON names the target interpreter explicitly
# ("none": ship sources only, no bytecode).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARCH="x86_64"
PYVER="3.12"
SLIM=0
OUT="$ROOT/build"
CACHE="${PARTNERDB_LAYER_CACHE:-$ROOT/build/cache}"
# Bump when the install or prune steps change, so cached installs are not reused.
CACHE_FORMAT=3
LOCK="$ROOT/layer/requirements.lock"
RUNTIME_PROVIDED=(boto3 botocore s3transfer jmespath urllib3 python-dateutil six)
LAMBDA_UNZIPPED_LIMIT=$((250 * 1024 * 1024))

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
    echo "build_layer: error: $*" >&2
    exit 1
}

log() {
    echo "build_layer: $*"
}

warn() {
    echo "build_layer: WARNING: $*" >&2
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --arch) ARCH="${2:-}"; shift 2 || die "--arch needs a value" ;;
            --arch=*) ARCH="${1#*=}"; shift ;;
            --python) PYVER="${2:-}"; shift 2 || die "--python needs a value" ;;
            --python=*) PYVER="${1#*=}"; shift ;;
            --slim) SLIM=1; shift ;;
            --out) OUT="${2:-}"; shift 2 || die "--out needs a value" ;;
            --out=*) OUT="${1#*=}"; shift ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
    done
    case "$ARCH" in
        x86_64) PIP_ARCH="x86_64" ;;
        arm64) PIP_ARCH="aarch64" ;;
        *) die "--arch must be x86_64 or arm64, not '$ARCH'" ;;
    esac
    case "$PYVER" in
        3.11|3.12|3.13) ;;
        *) die "--python must be 3.11, 3.12 or 3.13, not '$PYVER'" ;;
    esac
    [[ -n "$OUT" ]] || die "--out needs a value"
    mkdir -p "$OUT"
    OUT="$(cd "$OUT" && pwd)"
}

# The interpreter that runs pip and the helpers: the dev venv's, else python3.
find_host_python() {
    if [[ -x "$ROOT/.venv/bin/python" ]]; then
        HOST_PY="$ROOT/.venv/bin/python"
    else
        HOST_PY="$(command -v python3)" || die "python3 not found"
    fi
    "$HOST_PY" -m pip --version >/dev/null 2>&1 || die "$HOST_PY has no pip"
}

# Print "X.Y executable" of an interpreter, or nothing if it does not run (a pyenv shim may
# refuse); the real executable, so a shim is resolved once and not asked again.
python_version_of() {
    "$1" -I -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.executable)' \
        2>/dev/null || true
}

# The target CPython X.Y on this machine, if any: PARTNERDB_TARGET_PYTHON, PATH, pyenv.
find_target_python() {
    local candidates=() candidate found executable root roots=("${PYENV_ROOT:-$HOME/.pyenv}")
    [[ "${roots[0]}" != /root/.pyenv ]] && roots+=(/root/.pyenv)
    [[ -n "${PARTNERDB_TARGET_PYTHON:-}" ]] && candidates+=("$PARTNERDB_TARGET_PYTHON")
    candidate="$(command -v "python$PYVER" || true)"
    [[ -n "$candidate" ]] && candidates+=("$candidate")
    for root in "${roots[@]}"; do
        while IFS= read -r candidate; do
            candidates+=("$candidate")
        done < <(compgen -G "$root/versions/$PYVER*/bin/python$PYVER" | sort -rV || true)
    done
    TARGET_PY=""
    [[ "${PARTNERDB_TARGET_PYTHON:-}" == none ]] && return 0
    for candidate in "${candidates[@]}"; do
        read -r found executable < <(python_version_of "$candidate") || continue
        if [[ "$found" == "$PYVER" && -x "$executable" ]]; then
            TARGET_PY="$executable"
            return 0
        fi
    done
}

# The NAME==VERSION of every requirement in the lock file; each must carry --hash lines
# (pip refuses the install otherwise, with --require-hashes).
read_pins() {
    local line
    PINS=()
    [[ -f "$LOCK" ]] || die "missing ${LOCK#"$ROOT"/}: run make lock"
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ "$line" =~ ^[[:space:]]*(#|--hash|$) ]] && continue
        line="${line%%\\*}"
        line="${line//[[:space:]]/}"
        [[ "$line" =~ ^[A-Za-z0-9._-]+==[A-Za-z0-9.+!_-]+$ ]] \
            || die "${LOCK#"$ROOT"/}: '$line' is not pinned as NAME==VERSION"
        PINS+=("$line")
    done <"$LOCK"
    ((${#PINS[@]} > 0)) || die "${LOCK#"$ROOT"/} pins nothing"
}

# Write the lock file's entries (with their hashes) for the given pins only to FILE.
#   lock_subset FILE PIN...
lock_subset() {
    local file="$1" names=""
    shift
    local pin
    for pin in "$@"; do
        names+=" $(normalize_name "${pin%%==*}") "
    done
    awk -v names="$names" '
        /^[A-Za-z0-9]/ { split($1, parts, "=="); n = tolower(parts[1]); gsub(/[._]/, "-", n);
                         keep = index(names, " " n " ") > 0 }
        /^[[:space:]]*#/ { next }
        keep { print }
    ' "$LOCK" >"$file"
}

normalize_name() {
    local name="${1,,}"
    echo "${name//[._]/-}"
}

is_runtime_provided() {
    local name provided
    name="$(normalize_name "${1%%==*}")"
    for provided in "${RUNTIME_PROVIDED[@]}"; do
        [[ "$name" == "$provided" ]] && return 0
    done
    return 1
}

# Split PINS into the layer's own (LAYER_PINS) and the runtime's (RUNTIME_PINS).
split_pins() {
    local pin
    LAYER_PINS=()
    RUNTIME_PINS=()
    for pin in "${PINS[@]}"; do
        if [[ "$SLIM" == 1 ]] && is_runtime_provided "$pin"; then
            RUNTIME_PINS+=("$pin")
        else
            LAYER_PINS+=("$pin")
        fi
    done
}

# A short digest of everything that decides what an install contains.
cache_key() {
    {
        echo "format=$CACHE_FORMAT python=$PYVER arch=$ARCH"
        sha256sum <"$LOCK" | cut -d' ' -f1
        "$HOST_PY" -m pip --version | cut -d' ' -f1-2
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}

# Remove what a layer must not carry: scripts, bytecode, packages' test suites, and the
# dist-info RECORD files (they list the removed files, and hash bin/ scripts whose shebang pip
# rewrote to the installing interpreter's path, so they differ from one machine to the next).
prune() {
    rm -rf "${1:?}/bin"
    rm -f "$1"/*.dist-info/RECORD
    find "$1" -depth -type d \( -name __pycache__ -o -name tests \) -exec rm -rf {} +
    find "$1" -type f \( -name '*.pyc' -o -name '*.pyo' \) -delete
}

# pip install the given pins into DEST for the target platform, once per cache key.
# A finished install is never modified: it is built in a private folder and renamed into
# place, so concurrent builds can share the cache.
#   install_site DEST resolve|nodeps PIN...
install_site() {
    local dest="$1" mode="$2" tmp
    shift 2
    if [[ -f "$dest/.complete" ]]; then
        log "cached install $(basename "$dest")"
        return 0
    fi
    tmp="$dest.tmp.$$"
    rm -rf "$tmp"
    local pip_args=(
        install --quiet --disable-pip-version-check --no-input
        --target "$tmp" --cache-dir "$CACHE/pip"
        --platform "manylinux2014_$PIP_ARCH" --implementation cp --python-version "$PYVER"
        --only-binary=:all: --no-compile --require-hashes
    )
    if [[ "$mode" == resolve ]]; then
        # pip resolves the dependencies for the target platform; every one must be in the
        # lock, with a hash matching the file pip downloads.
        pip_args+=(-r "$LOCK")
    else
        lock_subset "$tmp.requirements" "$@"
        pip_args+=(--no-deps -r "$tmp.requirements")
    fi
    log "pip install ($mode) for cp${PYVER/./} manylinux2014_$PIP_ARCH -> $(basename "$dest")"
    if ! "$HOST_PY" -m pip "${pip_args[@]}"; then
        rm -rf "$tmp" "$tmp.requirements"
        die "pip install failed"
    fi
    rm -f "$tmp.requirements"
    prune "$tmp"
    if ! "$HOST_PY" -I "$ROOT/release/layer_check.py" pins "$tmp" --expect "$@"; then
        rm -rf "$tmp"
        die "installed distributions differ from the pins (run make lock)"
    fi
    touch "$tmp/.complete"
    if ! mv -T "$tmp" "$dest" 2>/dev/null; then
        rm -rf "$tmp"
        [[ -f "$dest/.complete" ]] || die "$dest is incomplete: remove it and build again"
    fi
}

# Copy dependencies, partnerdb (without its test kit) and handler_sdk into STAGE/python. The dependencies are hard-linked from
# the cache when it is on the same file system (nothing below modifies a file in place:
# compileall only adds new files), else copied.
stage_tree() {
    rm -rf "$STAGE"
    mkdir -p "$STAGE"
    if ! cp -al "$SITE" "$STAGE/python" 2>/dev/null; then
        rm -rf "$STAGE/python"
        cp -R "$SITE" "$STAGE/python"
    fi
    rm -f "$STAGE/python/.complete"
    local package
    for package in layer/partnerdb handler_sdk; do
        [[ -f "$ROOT/$package/__init__.py" ]] || die "$package/__init__.py is missing"
        [[ -f "$ROOT/$package/py.typed" ]] || die "$package/py.typed is missing"
        cp -R "$ROOT/$package" "$STAGE/python/$(basename "$package")"
    done
    for package in partnerdb handler_sdk; do
        find "$STAGE/python/$package" -depth \( -name __pycache__ -o -name '.*_cache' \) \
            -exec rm -rf {} +
        find "$STAGE/python/$package" -type f \( -name '*.pyc' -o -name '*.pyo' \) -delete
    done
    # The test kit (moto, pytest fixtures) is for developers' machines: wheel only.
    rm -rf "$STAGE/python/partnerdb/testing"
}

# botocore's data for DynamoDB and STS, pre-parsed for the botocore in the layer (a slim layer
# runs on the runtime's botocore and ships none): partnerdb's first client then costs about
# 14 ms instead of 56 (see layer/partnerdb/botocore_data.py).
prepare_botocore_data() {
    [[ "$SLIM" == 1 ]] && return 0
    "$HOST_PY" -I -S -B -c 'import sys; sys.path.insert(0, sys.argv[1]); \
from partnerdb.botocore_data import main; raise SystemExit(main(sys.argv[2:]))' \
        "$STAGE/python" "$STAGE/python/partnerdb/_botocore_data" | sed 's/^/build_layer: /' \
        || die "pre-parsing botocore data failed"
    [[ -f "$STAGE/python/partnerdb/_botocore_data/botocore-version" ]] \
        || die "pre-parsing botocore data wrote nothing"
}

# Compile bytecode for the target Python only, hash-based so no source mtime is involved,
# with paths as Lambda sees them (/opt/python/...) and a fixed hash seed (frozenset order).
compile_tree() {
    if [[ "${PARTNERDB_TARGET_PYTHON:-}" == none ]]; then
        warn "PARTNERDB_TARGET_PYTHON=none: shipping sources only (slower cold start)"
        BYTECODE_TAG=""
        return
    fi
    if [[ -z "$TARGET_PY" ]]; then
        warn "no python$PYVER on this machine: shipping sources only (slower cold start)"
        BYTECODE_TAG=""
        return
    fi
    BYTECODE_TAG="$("$TARGET_PY" -I -c 'import sys; print(sys.implementation.cache_tag)')"
    log "compiling bytecode ($BYTECODE_TAG) with $TARGET_PY ($("$TARGET_PY" -V 2>&1))"
    PYTHONHASHSEED=0 "$TARGET_PY" -m compileall -q --invalidation-mode unchecked-hash \
        -d /opt/python "$STAGE/python" >/dev/null || die "compileall failed"
}

# Read key=value lines of `zipdeterministic.py info` into ZIP_INFO.
describe_zip() {
    local line
    declare -gA ZIP_INFO=()
    while IFS= read -r line; do
        ZIP_INFO["${line%%=*}"]="${line#*=}"
    done < <("$HOST_PY" -I "$ROOT/release/zipdeterministic.py" info "$ZIP")
}

# Unpack the zip and import partnerdb, pynamodb and botocore from it in an isolated
# interpreter of the target version (else this one).
verify_zip() {
    local check_py="$TARGET_PY" version unpacked args=()
    if [[ -z "$check_py" ]]; then
        check_py="$HOST_PY"
        warn "verifying with $("$HOST_PY" -V 2>&1), not Python $PYVER"
    fi
    version="$(sed -n 's/^__version__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' \
        "$ROOT/layer/partnerdb/_version.py")"
    unpacked="$(mktemp -d "${TMPDIR:-/tmp}/partnerdb-layer-verify.XXXXXX")"
    # shellcheck disable=SC2064  # expand now: the variable is local
    trap "rm -rf '$unpacked'" EXIT
    "$HOST_PY" -I "$ROOT/release/zipdeterministic.py" extract "$ZIP" "$unpacked"
    args=(imports "$unpacked/python" --arch "$ARCH" --python "$PYVER")
    [[ -n "$version" ]] && args+=(--expect-version "$version")
    [[ -n "$BYTECODE_TAG" ]] && args+=(--bytecode "$BYTECODE_TAG")
    [[ "$SLIM" == 1 ]] && args+=(--runtime "$RUNTIME_SITE")
    if ! "$check_py" -I -S "$ROOT/release/layer_check.py" "${args[@]}" \
        | sed 's/^/build_layer: verify: /'; then
        die "verification of $ZIP failed"
    fi
    rm -rf "$unpacked"
    trap - EXIT
}

report() {
    local zipped="${ZIP_INFO[zipped_mib]}" unzipped="${ZIP_INFO[unzipped_mib]}"
    log "layer   $ZIP"
    log "size    $zipped MiB zipped, $unzipped MiB unzipped (${ZIP_INFO[files]} files)"
    log "sha256  ${ZIP_INFO[sha256]}"
    log "CodeSha256 ${ZIP_INFO[code_sha256]}"
    if ((ZIP_INFO[unzipped_bytes] > LAMBDA_UNZIPPED_LIMIT)); then
        warn "over Lambda's 250 MB unzipped limit for functions plus layers"
    fi
}

main() {
    parse_args "$@"
    local started=$SECONDS name suffix=""
    [[ "$SLIM" == 1 ]] && suffix="-slim"
    name="partnerdb-layer-$PYVER-$ARCH$suffix"
    ZIP="$OUT/$name.zip"
    STAGE="$OUT/.stage-$name"

    find_host_python
    find_target_python
    read_pins
    split_pins
    mkdir -p "$CACHE"
    log "building $name (python $PYVER, $ARCH, $([[ "$SLIM" == 1 ]] && echo slim || echo full))"

    if [[ "$SLIM" == 1 ]]; then
        SITE="$CACHE/site-$(cache_key slim "${LAYER_PINS[@]}")"
        install_site "$SITE" nodeps "${LAYER_PINS[@]}"
        RUNTIME_SITE="$CACHE/runtime-$(cache_key runtime "${RUNTIME_PINS[@]}")"
        install_site "$RUNTIME_SITE" nodeps "${RUNTIME_PINS[@]}"
    else
        SITE="$CACHE/site-$(cache_key full "${LAYER_PINS[@]}")"
        install_site "$SITE" resolve "${LAYER_PINS[@]}"
    fi

    stage_tree
    prepare_botocore_data
    compile_tree
    "$HOST_PY" -I "$ROOT/release/zipdeterministic.py" zip "$STAGE" "$ZIP" || die "zip failed"
    rm -rf "$STAGE"
    describe_zip
    report
    verify_zip
    log "verified; built in $((SECONDS - started)) s"
}

main "$@"
