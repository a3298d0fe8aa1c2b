#!/usr/bin/env bash
# Install hipcam on Raspberry Pi OS Bookworm as a systemd service that starts at boot.
#
#   sudo scripts/install-pi.sh            # install or upgrade (safe to re-run)
#   scripts/install-pi.sh --dry-run       # print every command, change nothing (no root needed)
#   sudo scripts/install-pi.sh --tls      # also serve HTTPS, with a self-signed certificate
#   sudo scripts/install-pi.sh --hub      # the gym's hub (hipcam-hub.service) instead of the camera
#
# Re-running keeps /etc/hipcam/config.toml and its PIN; it refreshes the code, the venv,
# the models and the unit, then restarts the service.
set -euo pipefail

readonly PREFIX=/opt/hipcam
readonly SRC_DIR=$PREFIX/src
readonly VENV=$PREFIX/venv
readonly STATE_DIR=/var/lib/hipcam
readonly MODELS_DIR=$STATE_DIR/models
readonly CONF_DIR=/etc/hipcam
readonly CONF=$CONF_DIR/config.toml
readonly SERVICE_USER=hipcam
readonly CAMERA_PORT=8080
readonly HUB_PORT=8090
readonly TOKENS_DIR=$CONF_DIR/tokens
readonly TLS_DIR=$STATE_DIR/tls
# A second line behind hipcam's own cap of 16 (server.max_connections_per_client): the kernel
# turns away new connections from an address that already has this many open to the port.
readonly FIREWALL_RULES=$CONF_DIR/firewall.nft
readonly FIREWALL_UNIT=/etc/systemd/system/hipcam-firewall.service
readonly FIREWALL_PER_CLIENT=32
# picamera2 comes from apt (it needs the system libcamera bindings); everything else from pip,
# pinned with hashes in the checkout's requirements/*.txt (made by scripts/lock, which also keeps
# numpy < 2 on aarch64: apt's picamera2/simplejpeg are built against Debian's numpy 1.x).
# fonts-dejavu-core: the PDF report's font (names in any Latin, Greek or Cyrillic script).
readonly APT_PACKAGES=(
    python3-picamera2 python3-venv python3-pip python3-numpy
    rsync curl sqlite3 ca-certificates openssl nftables fonts-dejavu-core
)
# The hub has no camera: no picamera2 (nor apt's numpy for it).
readonly HUB_APT_PACKAGES=(python3-venv python3-pip rsync curl sqlite3 ca-certificates openssl nftables)
readonly LOCKS=(requirements/runtime.txt requirements/build.txt)

DRY_RUN=0
START=1
TLS=0
HUB=0
# Set by parse_args: the camera (hipcam.service, port 8080) or the hub (hipcam-hub.service, 8090).
SERVICE=hipcam
PORT=$CAMERA_PORT
UNIT_DST=/etc/systemd/system/hipcam.service
CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<EOF
usage: $(basename "$0") [--dry-run] [--no-start] [--tls] [--hub] [--src DIR]
  --dry-run   print every command that would run; change nothing
  --no-start  install and enable, but do not (re)start the service
  --tls       serve HTTPS: make a self-signed certificate in $TLS_DIR (kept if there)
              and set server.tls_cert/tls_key in the config
  --hub       install the gym's hub instead of the camera service (hipcam-hub.service,
              port $HUB_PORT: every treadmill on one page, and the session archive)
  --src DIR   hipcam checkout to install (default: $CHECKOUT)
EOF
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install-pi: %s\n' "$*" >&2; exit 1; }

# Print a command, shell-quoted, then run it unless this is a dry run.
run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if ((DRY_RUN)); then
        return 0
    fi
    "$@"
}

# Write stdin to a file with owner/group/mode, atomically (install(1) from a temp file).
write_file() {
    local dest=$1 owner=$2 group=$3 mode=$4 tmp
    if ((DRY_RUN)); then
        printf '+ write %q (owner %s:%s, mode %s):\n' "$dest" "$owner" "$group" "$mode"
        sed 's/^/    | /'
        return 0
    fi
    tmp=$(mktemp)
    cat >"$tmp"
    install -o "$owner" -g "$group" -m "$mode" "$tmp" "$dest"
    rm -f "$tmp"
}

parse_args() {
    while (($#)); do
        case $1 in
            --dry-run) DRY_RUN=1 ;;
            --no-start) START=0 ;;
            --tls) TLS=1 ;;
            --hub) HUB=1 ;;
            --src)
                [[ $# -ge 2 ]] || die "--src needs a directory"
                CHECKOUT=$(cd "$2" && pwd)
                shift
                ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
    if ((HUB)); then
        SERVICE=hipcam-hub
        PORT=$HUB_PORT
        UNIT_DST=/etc/systemd/system/$SERVICE.service
    fi
}

preflight() {
    [[ -f $CHECKOUT/pyproject.toml && -f $CHECKOUT/device/hipcam/assets_manifest.toml ]] ||
        die "$CHECKOUT is not a hipcam checkout (no pyproject.toml / device/hipcam/assets_manifest.toml)"
    local lock
    for lock in "${LOCKS[@]}"; do
        [[ -f $CHECKOUT/$lock ]] || die "$CHECKOUT has no $lock (the pinned dependencies; make it with scripts/lock)"
    done
    local machine
    machine=$(uname -m)
    [[ $machine == aarch64 || $machine == x86_64 ]] ||
        die "the locked wheels are for aarch64 and x86_64, this is $machine (use the 64-bit Raspberry Pi OS)"
    if ((!DRY_RUN)) && ((EUID != 0)); then
        die "run as root (sudo $0), or with --dry-run to see what it would do"
    fi
    local codename=""
    if [[ -r /etc/os-release ]]; then
        # shellcheck disable=SC1091
        codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    fi
    [[ $codename == bookworm ]] || log "warning: made for Raspberry Pi OS Bookworm; this is '${codename:-unknown}'"
}

install_packages() {
    log "system packages"
    run apt-get update
    if ((HUB)); then
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${HUB_APT_PACKAGES[@]}"
    else
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
    fi
}

create_user() {
    log "service user '$SERVICE_USER'$( ((HUB)) || printf ' (group video for the camera)')"
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        printf '# user %s exists\n' "$SERVICE_USER"
    else
        run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "hipcam service" "$SERVICE_USER"
    fi
    ((HUB)) || run usermod --append --groups video "$SERVICE_USER"
}

install_code() {
    log "code in $SRC_DIR, venv in $VENV"
    # A root-owned copy of the checkout: hipcam's wheel is built there (not in a checkout a user
    # owns), and the unit's Documentation= points into it. The service runs the installed wheel.
    run install -d -m 0755 "$PREFIX" "$SRC_DIR"
    if [[ $CHECKOUT != "$SRC_DIR" ]]; then
        run rsync -a --delete --exclude .git --exclude .venv --exclude '__pycache__' \
            --exclude '.*_cache' --exclude '*.egg-info' --exclude '/models/*.tflite' \
            --exclude '/models/*.mp4' "$CHECKOUT/" "$SRC_DIR/"
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        # --system-site-packages: picamera2 and libcamera are only available from apt.
        run python3 -m venv --system-site-packages "$VENV"
    fi
    # Exactly the locked versions, each checked against its hash, as wheels (never a build on the Pi).
    run "$VENV/bin/python" -m pip install --require-hashes --only-binary=:all: \
        -r "$SRC_DIR/${LOCKS[0]}" -r "$SRC_DIR/${LOCKS[1]}"
    # hipcam itself: a plain (not editable) install, built with the locked setuptools; pip compiles
    # it (the unit sets PYTHONDONTWRITEBYTECODE and the venv is read-only to the service).
    run "$VENV/bin/python" -m pip install --no-deps --no-build-isolation --force-reinstall "$SRC_DIR"
    if [[ -e $PREFIX/constraints.txt ]]; then
        run rm -f "$PREFIX/constraints.txt" # an older installer's; the locks replace it
    fi
}

fetch_models() {
    run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
    ((HUB)) && return 0 # the hub analyses nothing: no models
    log "models and demo clip in $MODELS_DIR"
    run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$MODELS_DIR"
    # fetch verifies checksums and skips files that are already there and correct.
    run "$VENV/bin/hipcam" fetch --models-dir "$MODELS_DIR"
    # The int8 landmark model is built on the board itself (docs/int8-model.md). It needs about
    # 1.6 GB of memory: a smaller board keeps FP32, which pose.precision = auto then uses anyway.
    local mem_kb
    mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
    if ((mem_kb >= 3 * 1024 * 1024)); then
        run "$VENV/bin/hipcam" build-int8 --models-dir "$MODELS_DIR"
    else
        log "skipping the int8 model build: $((mem_kb / 1024)) MB of memory, it needs about 1.6 GB"
    fi
    run chown -R "$SERVICE_USER:$SERVICE_USER" "$MODELS_DIR"
}

config_body() {
    local pin_hash=$1
    cat <<EOF
# hipcam configuration (written by install-pi.sh; edit, then: sudo systemctl restart hipcam)
# Check it with: hipcam config check $CONF

[capture]
source = "auto"

[server]
host = "0.0.0.0"
port = $CAMERA_PORT
pin_hash = "$pin_hash"

[storage]
data_dir = "$STATE_DIR"

[paths]
models_dir = "$MODELS_DIR"

[logging]
level = "info"
EOF
}

hub_config_body() {
    cat <<EOF
# hipcam hub configuration (written by install-pi.sh; edit, then: sudo systemctl restart hipcam-hub)
# Check it with: hipcam config check --file-only $CONF

[hub]
host = "0.0.0.0"
port = $HUB_PORT
pull_interval_s = 60
# A shared archive in PostgreSQL instead of SQLite in data_dir:
# database_url = "postgresql://hipcam@db.gym.lan/hipcam"

# One block per treadmill whose sessions are archived. On the treadmill:
#   sudo -u hipcam /opt/hipcam/venv/bin/hipcam --config /etc/hipcam/config.toml token add hub --out /tmp/hub.token
# then copy that file here, to $TOKENS_DIR/<id> (owner root:hipcam, mode 0640), and delete /tmp/hub.token.
# [[hub.devices]]
# id = "treadmill-1"
# url = "http://treadmill-1.local:$CAMERA_PORT"
# token_file = "$TOKENS_DIR/treadmill-1"

[mqtt]
# The gym's MQTT broker: the treadmills publish to the same one ([mqtt] on each).
host = "localhost"
port = 1883

[storage]
data_dir = "$STATE_DIR"

[logging]
level = "info"
EOF
}

write_hub_config() {
    run install -d -m 0750 -o root -g "$SERVICE_USER" "$TOKENS_DIR"
    if [[ -e $CONF ]]; then
        printf '# %s exists: kept as it is\n' "$CONF"
        run chown root:"$SERVICE_USER" "$CONF"
        run chmod 0640 "$CONF"
        return 0
    fi
    hub_config_body | write_file "$CONF" root "$SERVICE_USER" 0640
}

write_config() {
    log "configuration $CONF"
    run install -d -m 0755 -o root -g root "$CONF_DIR"
    if ((HUB)); then
        write_hub_config
        return 0
    fi
    if [[ -e $CONF ]]; then
        printf '# %s exists: kept as it is (PIN unchanged)\n' "$CONF"
        run chown root:"$SERVICE_USER" "$CONF"
        run chmod 0640 "$CONF"
        return 0
    fi
    if ((DRY_RUN)); then
        # shellcheck disable=SC2016  # the $PIN in the text is meant literally
        printf '+ PIN=$(6 random digits); printf "%%s\\n" "$PIN" | %q pin-hash\n' "$VENV/bin/hipcam"
        config_body '<scrypt hash of the new PIN>' | write_file "$CONF" root "$SERVICE_USER" 0640
        return 0
    fi
    local pin pin_hash
    pin=$(python3 -c 'import secrets; print(f"{secrets.randbelow(10**6):06d}")')
    pin_hash=$(printf '%s\n' "$pin" | "$VENV/bin/hipcam" pin-hash)
    [[ -n $pin_hash ]] || die "hipcam pin-hash printed nothing"
    config_body "$pin_hash" | write_file "$CONF" root "$SERVICE_USER" 0640
    NEW_PIN=$pin
}

tls_lines() {
    printf 'tls_cert = "%s"\ntls_key = "%s"\n' "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem"
}

# The config on stdin with tls_lines right under its [server] header (or in a new [server] at the end).
with_tls_lines() {
    TLS_LINES=$(tls_lines) awk '
        { print }
        /^[[:space:]]*\[server\][[:space:]]*$/ && !done { print ENVIRON["TLS_LINES"]; done = 1 }
        END { if (!done) printf "\n[server]\n%s\n", ENVIRON["TLS_LINES"] }'
}

sets_tls() { [[ -r $CONF ]] && grep -qE '^[[:space:]]*tls_cert[[:space:]]*=' "$CONF"; }

enable_tls() {
    ((TLS)) || return 0
    log "HTTPS certificate in $TLS_DIR"
    run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$TLS_DIR"
    if [[ -e $TLS_DIR/cert.pem && -e $TLS_DIR/key.pem ]]; then
        printf '# %s has a certificate and key: kept\n' "$TLS_DIR"
        run openssl x509 -in "$TLS_DIR/cert.pem" -noout -fingerprint -sha256
    else
        run runuser -u "$SERVICE_USER" -- "$VENV/bin/hipcam" tls-cert --out "$TLS_DIR"
    fi
    if sets_tls; then
        printf '# %s sets tls_cert already: kept\n' "$CONF"
    elif ((DRY_RUN)) && [[ ! -r $CONF ]]; then
        printf '+ add under [server] in %s:\n' "$CONF"
        tls_lines | sed 's/^/    | /'
    else
        local updated
        updated=$(with_tls_lines <"$CONF")
        printf '%s\n' "$updated" | write_file "$CONF" root "$SERVICE_USER" 0640
    fi
}

firewall_rules() {
    cat <<EOF
# hipcam (written by install-pi.sh): at most $FIREWALL_PER_CLIENT open connections per client address
# to the page's port $PORT; more are reset. Loaded by $(basename "$FIREWALL_UNIT"); loading it again replaces it.
table inet hipcam
delete table inet hipcam
table inet hipcam {
	set clients4 {
		type ipv4_addr
		size 65535
		flags dynamic
	}
	set clients6 {
		type ipv6_addr
		size 65535
		flags dynamic
	}
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport $PORT ct state new add @clients4 { ip saddr ct count over $FIREWALL_PER_CLIENT } counter reject with tcp reset
		tcp dport $PORT ct state new add @clients6 { ip6 saddr ct count over $FIREWALL_PER_CLIENT } counter reject with tcp reset
	}
}
EOF
}

firewall_unit() {
    cat <<EOF
# Written by install-pi.sh: hipcam's per-client connection limit (nftables table inet hipcam).
[Unit]
Description=hipcam per-client connection limit on port $PORT
# nftables.service flushes the whole ruleset when it (re)starts: load after it, and again with it.
After=nftables.service
PartOf=nftables.service
Before=$SERVICE.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f $FIREWALL_RULES
ExecStop=/usr/sbin/nft delete table inet hipcam

[Install]
WantedBy=multi-user.target
EOF
}

install_firewall() {
    log "firewall: at most $FIREWALL_PER_CLIENT connections per client to port $PORT (nftables)"
    firewall_rules | write_file "$FIREWALL_RULES" root root 0644
    firewall_unit | write_file "$FIREWALL_UNIT" root root 0644
    run systemctl daemon-reload
    run systemctl enable hipcam-firewall.service
    if ((START)); then
        # A kernel without nftables' connection counting is no reason to stop the install.
        run systemctl restart hipcam-firewall.service ||
            log "warning: the firewall rules did not load; see: systemctl status hipcam-firewall"
    fi
}

install_unit() {
    log "systemd unit"
    run install -m 0644 -o root -g root "$SRC_DIR/systemd/$SERVICE.service" "$UNIT_DST"
    run systemctl daemon-reload
    if ((!START)); then
        run systemctl enable "$SERVICE.service"
    elif systemctl is-active --quiet "$SERVICE.service" 2>/dev/null; then
        run systemctl enable "$SERVICE.service"
        run systemctl restart "$SERVICE.service"
    else
        run systemctl enable --now "$SERVICE.service"
    fi
}

wait_healthy() {
    ((START)) || return 0
    # Over HTTPS the probe does not check the certificate: it asks this machine whether it is up.
    local url="$SCHEME://127.0.0.1:$PORT/healthz" curl_tls=()
    [[ $SCHEME == https ]] && curl_tls=(--insecure)
    if ((DRY_RUN)); then
        printf '+ curl -fsS %s%s  (until healthy, at most 90 s)\n' "${curl_tls[*]/%/ }" "$url"
        return 0
    fi
    local i code
    for ((i = 0; i < 45; i++)); do
        code=$(curl -sS "${curl_tls[@]}" -o /dev/null -w '%{http_code}' "$url" 2>/dev/null) || code=000
        if [[ $code == 200 ]]; then
            log "$( ((HUB)) && printf 'the hub is up: broker connected, archive ready' || printf 'hipcam is up and analysing frames')"
            return 0
        fi
        # The hub answers 503 while its broker or archive is away (it keeps retrying): up, but say why.
        ((HUB)) && [[ $code == 503 ]] && break
        sleep 2
    done
    log "warning: /healthz is not OK yet; see: systemctl status $SERVICE; journalctl -u $SERVICE -n 50"
    curl -sS "${curl_tls[@]}" "$url" >&2 || true
    printf '\n' >&2
}

main() {
    NEW_PIN=""
    parse_args "$@"
    preflight
    ((DRY_RUN)) && log "dry run: nothing will be changed"
    install_packages
    create_user
    install_code
    fetch_models
    write_config
    enable_tls
    SCHEME=http
    if ((TLS)) || sets_tls; then
        SCHEME=https
    fi
    install_firewall
    install_unit
    wait_healthy
    if [[ -n $NEW_PIN ]]; then
        printf '\n  Device PIN: %s\n  Write it down now: it is shown only this once.\n' "$NEW_PIN"
        printf '  (Set a new one later with: hipcam pin-hash, then edit %s)\n\n' "$CONF"
    fi
    local addr
    addr=$(hostname -I 2>/dev/null | awk '{print $1}') || addr=""
    if ((HUB)); then
        log "open $SCHEME://${addr:-<this-machine>}:$PORT/ at the desk; add the treadmills under [hub] devices in $CONF"
    else
        log "open $SCHEME://${addr:-<this-pi>}:$PORT/ on the tablet"
    fi
}

main "$@"
