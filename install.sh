#!/bin/sh
# Mailroom installer: builds the single binary dist/mailroom from this checkout
# and, on request, installs it as a systemd service (Mailpit / listmonk style).
#
# POSIX sh, idempotent: running it twice changes nothing the first run made,
# and an existing config file or data dir is never overwritten.
set -eu

BUN_VERSION="${BUN_VERSION:-1.4.5}"
INSTALL_PATH="${INSTALL_PATH:-/usr/local/bin}"
SERVICE_USER="${SERVICE_USER:-mailroom}"
SERVICE_DATA_DIR="${SERVICE_DATA_DIR:-/var/lib/mailroom}"
CONF_DIR="${SERVICE_CONF_DIR:-/etc/mailroom}"
ENV_FILE="$CONF_DIR/mailroom.env"
UNIT_FILE="${SERVICE_UNIT_DIR:-/etc/systemd/system}/mailroom.service"

usage() {
	cat <<EOF
Usage: ./install.sh [MODE] [-- ARGS...]

Builds Mailroom from this checkout into one executable, dist/mailroom:
installs Bun if it is missing (official installer, else \`npm install -g bun\`),
runs \`bun install --frozen-lockfile\` (versions pinned by bun.lock) and
\`bun run build\`.

Modes:
  (none)         build, then print how to start it
  --start        build, then run \`dist/mailroom serve\` in the foreground with
                 data in ./data (MAILROOM_DATA_DIR overrides); ARGS go to serve
  --test         also install test tools when root (Debian: chromium, wrk,
                 systemd), check the Node fallback (better-sqlite3), build, then
                 run \`bun run test\`; ARGS go to bun test. This is what CI runs.
  --service      (root) build, then install as a system service: user
                 '$SERVICE_USER', data dir $SERVICE_DATA_DIR, config $ENV_FILE
                 (kept if present), binary \$INSTALL_PATH/mailroom, unit
                 $UNIT_FILE; runs \`mailroom init\` as '$SERVICE_USER' (a new
                 instance prints its admin login and default token once, here,
                 not in the journal), then enables and (re)starts the unit when
                 systemd is running
  --print-unit   print the systemd unit that --service writes, and exit
  --print-env    print the default $ENV_FILE, and exit
  -h, --help     show this help

Environment:
  INSTALL_PATH   where --service puts the binary (default /usr/local/bin)
  SERVICE_USER, SERVICE_DATA_DIR, SERVICE_CONF_DIR, SERVICE_UNIT_DIR
                 --service's user (created if missing), data dir, config dir and
                 unit dir (defaults above)
  BUN_VERSION    Bun version to install when bun is missing (default $BUN_VERSION)
EOF
}

say() { printf '%s\n' "install.sh: $*"; }
warn() { printf '%s\n' "install.sh: warning: $*" >&2; }
die() { printf '%s\n' "install.sh: error: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

print_unit() {
	cat <<EOF
# Written by Mailroom's install.sh; rerunning it replaces this file.
# Put local changes in a drop-in instead: systemctl edit mailroom
[Unit]
Description=Mailroom email platform (HTTP API, SMTP submission, send worker)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
Environment=MAILROOM_DATA_DIR=$SERVICE_DATA_DIR
# Settings in this file override the line above.
EnvironmentFile=$ENV_FILE
WorkingDirectory=$SERVICE_DATA_DIR
ExecStart=$INSTALL_PATH/mailroom serve
Restart=on-failure
RestartSec=2s
# SIGTERM stops SMTP and HTTP, then drains the send worker.
TimeoutStopSec=30s
UMask=0027
LimitNOFILE=65536

# Hardening. MemoryDenyWriteExecute is left out on purpose: the JavaScript JIT
# in the Bun runtime needs writable+executable pages.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$SERVICE_DATA_DIR
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
# Only what is needed to listen on ports below 1024 (e.g. SMTP on 25 or 587).
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
AmbientCapabilities=CAP_NET_BIND_SERVICE

[Install]
WantedBy=multi-user.target
EOF
}

print_env() {
	cat <<'EOF'
# Mailroom configuration (read by the systemd unit). Uncomment to change.
# Values shown are the defaults. Command-line flags override these.

# HTTP listener and the public URL used in links and the admin Origin check.
#MAILROOM_HOST=0.0.0.0
#MAILROOM_PORT=3000
#MAILROOM_PUBLIC_URL=http://localhost:3000
# TLS (both set = HTTPS on MAILROOM_PORT, with HSTS).
#MAILROOM_TLS_CERT=
#MAILROOM_TLS_KEY=
#MAILROOM_REQUIRE_HTTPS=
# CIDRs of reverse proxies whose X-Forwarded-Proto is trusted (default: none).
#MAILROOM_TRUSTED_PROXIES=

# Data dir (SQLite database). The unit only allows writes below /var/lib/mailroom.
#MAILROOM_DATA_DIR=/var/lib/mailroom

# SMTP submission listener (0 = off).
#MAILROOM_SMTP_HOST=0.0.0.0
#MAILROOM_SMTP_PORT=2587

# Bounces that arrive later (docs/bounces.md): VERP return paths in this domain
# (its MX points at this host), and the inbound bounce listener (unset = off; 25).
#MAILROOM_BOUNCE_DOMAIN=
#MAILROOM_INBOUND_HOST=0.0.0.0
#MAILROOM_INBOUND_PORT=

# Local capture server for channels without an email server (loopback only).
#MAILROOM_CAPTURE=1
#MAILROOM_CAPTURE_ALL=0
#MAILROOM_CAPTURE_PORT=2525
# Captured messages kept (count, and days).
#MAILROOM_CAPTURE_MAX=10000
#MAILROOM_CAPTURE_RETENTION_DAYS=7

# First-run admin (else "admin" with a random password, printed once by
# `mailroom init`, which install.sh --service runs in the installer's terminal).
#MAILROOM_ADMIN_EMAIL=
#MAILROOM_ADMIN_PASSWORD=
# sender_email of the first-run default channel (else noreply@<public host>).
#MAILROOM_SENDER_EMAIL=

# Secrets. The link secret is generated and stored at first run when unset;
# rotating it invalidates every tracking/unsubscribe link.
#MAILROOM_LINK_SECRET=
# Bearer token for GET /metrics from other hosts (>= 16 characters); loopback needs none.
#MAILROOM_METRICS_TOKEN=

# Limits (requests per minute per token; 0 = unlimited).
#MAILROOM_RATE_LIMIT_GENERAL=120
#MAILROOM_RATE_LIMIT_SEND=600
#MAILROOM_MAX_BODY_BYTES=2097152
#MAILROOM_EVENT_RETENTION_DAYS=90

# How long a stop waits for in-flight requests and deliveries (ms).
#MAILROOM_SHUTDOWN_TIMEOUT_MS=10000

# Webhooks to private networks / plain http on loopback (off by default).
#MAILROOM_WEBHOOK_ALLOW_PRIVATE=0
#MAILROOM_ALLOW_HTTP_WEBHOOKS=0
EOF
}

# --- build steps ------------------------------------------------------------

ensure_bun() {
	if have bun; then return 0; fi
	bun_home="${BUN_INSTALL:-${HOME:-/root}/.bun}"
	if [ -x "$bun_home/bin/bun" ]; then
		PATH="$bun_home/bin:$PATH"; export PATH; return 0
	fi
	say "bun not found; trying the official installer (bun v$BUN_VERSION)"
	script="$(mktemp)"
	# Download first: `curl | bash` would hide a failed download behind bash's exit 0.
	if have curl && have bash && have unzip \
		&& curl -fsSL --connect-timeout 10 --max-time 120 -o "$script" https://bun.sh/install \
		&& bash "$script" "bun-v$BUN_VERSION"; then
		PATH="$bun_home/bin:$PATH"; export PATH
	elif have npm; then
		say "official installer unavailable; using npm install -g bun@$BUN_VERSION"
		npm install -g "bun@$BUN_VERSION" || die "npm install -g bun failed (as non-root, set npm's prefix to a writable dir)"
		PATH="$(npm prefix -g)/bin:$PATH"; export PATH
	else
		rm -f "$script"
		die "cannot install bun: neither https://bun.sh nor npm is available"
	fi
	rm -f "$script"
	have bun || die "bun was installed but is not on PATH"
}

# Packages for the test suite (browser tests, benches, unit verification).
ensure_test_tools() {
	missing=""
	have chromium || missing="$missing chromium"
	have wrk || missing="$missing wrk"
	have systemd-analyze || missing="$missing systemd"
	have g++ && have make && have python3 || missing="$missing g++ make python3"
	[ -n "$missing" ] || return 0
	if is_root && have apt-get; then
		say "installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
	else
		warn "missing:$missing (not root or no apt-get); tests that need them will skip or fail"
	fi
}

bun_install() {
	# better-sqlite3 (the Node fallback) builds from source; point node-gyp at the
	# local Node headers so it does not try to download them.
	if [ -z "${npm_config_nodedir:-}" ] && [ -d /usr/include/node ]; then
		npm_config_nodedir=/usr; export npm_config_nodedir
	fi
	say "bun install --frozen-lockfile"
	bun install --frozen-lockfile
}

# better-sqlite3 is optional: a failed native build does not fail the install.
# With $1 = strict, a missing or broken build is an error (tests need it).
check_node_sqlite() {
	have node || { [ "${1:-}" = strict ] && die "node is required for the Node fallback tests"; return 0; }
	probe="require('better-sqlite3')(':memory:').prepare('select 1 x').get().x === 1 || process.exit(1)"
	if node -e "$probe" >/dev/null 2>&1; then return 0; fi
	if [ -d node_modules/better-sqlite3 ] && [ -x node_modules/.bin/node-gyp ]; then
		say "better-sqlite3 does not load under node; rebuilding it (~70 s)"
		(cd node_modules/better-sqlite3 && ../.bin/node-gyp rebuild --release >/dev/null 2>&1) || true
		node -e "$probe" >/dev/null 2>&1 && return 0
	fi
	if [ "${1:-}" = strict ]; then
		die "better-sqlite3 does not load under node (needs g++, make, python3 and Node headers)"
	fi
	warn "better-sqlite3 is unavailable under node; only the Bun runtime (and dist/mailroom) will work"
}

build() {
	say "bun run build"
	bun run build
	[ -x dist/mailroom ] || die "build did not produce dist/mailroom"
}

# --- service install ----------------------------------------------------------

ensure_user() {
	if id "$SERVICE_USER" >/dev/null 2>&1; then return 0; fi
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	if have useradd; then
		useradd --system --user-group --home-dir "$SERVICE_DATA_DIR" --no-create-home \
			--shell "$nologin" "$SERVICE_USER"
	elif have adduser; then # busybox / Alpine
		addgroup -S "$SERVICE_USER" 2>/dev/null || true
		adduser -S -D -H -h "$SERVICE_DATA_DIR" -s "$nologin" -G "$SERVICE_USER" "$SERVICE_USER"
	else
		die "cannot create user $SERVICE_USER: no useradd or adduser"
	fi
	say "created system user $SERVICE_USER"
}

# The first run creates the admin and the default token and shows their values once. Done here, as
# the service user with the unit's settings, those values reach the operator's terminal instead of
# the unit's stdout, the journal, where they would stay. An instance set up before prints no secrets.
first_run() {
	set -- "HOME=$SERVICE_DATA_DIR" "PATH=/usr/local/bin:/usr/bin:/bin" "MAILROOM_DATA_DIR=$SERVICE_DATA_DIR"
	# The unit's EnvironmentFile, read as data (KEY=VALUE lines, optional quotes), never executed.
	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
			[A-Za-z_]*=*)
				value="${line#*=}"
				case "$value" in
					\"*\") value="${value#\"}"; value="${value%\"}" ;;
					\'*\') value="${value#\'}"; value="${value%\'}" ;;
				esac
				set -- "$@" "${line%%=*}=$value" ;;
		esac
	done <"$ENV_FILE"
	say "mailroom init (as $SERVICE_USER)"
	(
		umask 0027 # as the unit's UMask
		if have runuser; then
			runuser -u "$SERVICE_USER" -- env -i "$@" "$INSTALL_PATH/mailroom" init
		else
			su -s /bin/sh -c 'exec env -i "$@"' "$SERVICE_USER" mailroom-init "$@" "$INSTALL_PATH/mailroom" init
		fi
	)
}

install_service() {
	is_root || die "--service must run as root (sudo ./install.sh --service)"
	ensure_user

	if [ -e "$SERVICE_DATA_DIR" ]; then
		say "keeping existing data dir $SERVICE_DATA_DIR"
	else
		install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$SERVICE_DATA_DIR"
		say "created $SERVICE_DATA_DIR"
	fi

	install -d -m 0755 "$CONF_DIR"
	if [ -e "$ENV_FILE" ]; then
		say "keeping existing $ENV_FILE"
	else
		tmp="$(mktemp)"; print_env >"$tmp"
		install -m 0640 -o root -g "$SERVICE_USER" "$tmp" "$ENV_FILE"; rm -f "$tmp"
		say "wrote $ENV_FILE"
	fi

	install -d -m 0755 "$INSTALL_PATH"
	# Copy then rename, so a running binary is replaced atomically.
	cp dist/mailroom "$INSTALL_PATH/.mailroom.new"
	chmod 0755 "$INSTALL_PATH/.mailroom.new"
	mv -f "$INSTALL_PATH/.mailroom.new" "$INSTALL_PATH/mailroom"
	say "installed $INSTALL_PATH/mailroom"

	systemd_up=0
	if have systemctl && [ -d /run/systemd/system ]; then systemd_up=1; fi
	# A running service was set up long ago, and init would migrate its database under the old
	# binary: the restart below applies migrations instead.
	if [ "$systemd_up" = 1 ] && systemctl is-active --quiet mailroom; then
		say "mailroom.service is running, so it is set up; its restart applies any new migrations"
	else
		first_run || die "mailroom init failed (see above); the service was not started"
	fi

	tmp="$(mktemp)"; print_unit >"$tmp"
	unit_changed=0
	if [ -f "$UNIT_FILE" ] && cmp -s "$tmp" "$UNIT_FILE"; then
		rm -f "$tmp"
	else
		install -d -m 0755 "$(dirname "$UNIT_FILE")"
		install -m 0644 "$tmp" "$UNIT_FILE"; rm -f "$tmp"
		unit_changed=1
		say "wrote $UNIT_FILE"
	fi

	if [ "$systemd_up" = 1 ]; then
		[ "$unit_changed" = 0 ] || systemctl daemon-reload
		systemctl enable mailroom >/dev/null 2>&1 || systemctl enable mailroom
		if systemctl is-active --quiet mailroom; then
			systemctl restart mailroom
		else
			systemctl start mailroom
		fi
		say "mailroom.service is running: systemctl status mailroom; journalctl -u mailroom"
	else
		say "systemd is not running here; the unit was written but not enabled."
		say "start by hand: sudo -u $SERVICE_USER env MAILROOM_DATA_DIR=$SERVICE_DATA_DIR $INSTALL_PATH/mailroom serve"
	fi
}

# --- main -------------------------------------------------------------------

mode="build"
case "${1:-}" in
	"") ;;
	-h|--help) usage; exit 0 ;;
	--print-unit) print_unit; exit 0 ;;
	--print-env) print_env; exit 0 ;;
	--start) mode="start"; shift ;;
	--test) mode="test"; shift ;;
	--service) mode="service"; shift ;;
	*) usage >&2; exit 2 ;;
esac
[ "${1:-}" != "--" ] || shift
if [ "$mode" = build ] || [ "$mode" = service ]; then
	[ "$#" -eq 0 ] || { usage >&2; exit 2; }
fi

cd "$(dirname "$0")"
[ -f package.json ] && [ -f bun.lock ] || die "run install.sh from a Mailroom checkout"

case "$(uname -s)/$(uname -m)" in
	Linux/x86_64|Linux/aarch64|Linux/arm64|Darwin/x86_64|Darwin/arm64) ;;
	*) warn "untested platform $(uname -s)/$(uname -m)" ;;
esac

ensure_bun
[ "$mode" != test ] || ensure_test_tools
bun_install
if [ "$mode" = test ]; then check_node_sqlite strict; else check_node_sqlite; fi
build

case "$mode" in
	build)
		say "built dist/mailroom ($(bun --version | sed 's/^/bun /'))"
		cat <<EOF

Start it (data in ./data, HTTP on http://localhost:3000, SMTP on :2587):
  ./dist/mailroom serve          or   ./install.sh --start
The first start prints the admin login once. More: ./dist/mailroom --help
Install as a systemd service:   sudo ./install.sh --service
EOF
		;;
	start)
		MAILROOM_DATA_DIR="${MAILROOM_DATA_DIR:-./data}"; export MAILROOM_DATA_DIR
		mkdir -p "$MAILROOM_DATA_DIR" # an existing dir is used as it is
		say "starting dist/mailroom serve (data in $MAILROOM_DATA_DIR; Ctrl-C stops)"
		exec ./dist/mailroom serve "$@"
		;;
	test)
		say "bun run test"
		exec bun run test "$@"
		;;
	service) install_service ;;
esac
