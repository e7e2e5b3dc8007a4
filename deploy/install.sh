#!/usr/bin/env bash
# install.sh: cspm on one Debian or Ubuntu host, split by role into systemd
# units, on MongoDB (a single-node replica set: the event store needs
# transactions) and NATS with JetStream.
#
#   sudo deploy/install.sh [--binary bin/cspm] [--nats-binary PATH]
#   deploy/install.sh --dry-run          # print every step, change nothing
#   deploy/install.sh --root /tmp/x     # the files only, under /tmp/x (tests)
#
# Idempotent: every step checks first and acts only when something is
# missing or differs, so a second run changes nothing ("0 change(s)").
# Files an operator edits (/etc/cspm/*.env) and every key are written once
# and never overwritten; files this script owns (units, /etc/mongod.conf,
# /etc/nats-server.conf, the binary) are replaced when they differ.
# With --root, the steps that need the running system (apt, useradd,
# chown, systemctl, mongosh) are listed as skipped, not run.
# docs/operations.md describes the result.
set -euo pipefail
umask 077

usage() {
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
}

DRY_RUN=0
ROOT=""
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BINARY="$SCRIPT_DIR/../bin/cspm"
NATS_BINARY=""
MONGO_SERIES=7.0
ROLES=(api relay projector worker)

while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run) DRY_RUN=1 ;;
	--root)
		[ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }
		ROOT=${2%/}
		shift
		;;
	--binary)
		[ $# -ge 2 ] || { echo "install.sh: --binary needs a path" >&2; exit 2; }
		BINARY=$2
		shift
		;;
	--nats-binary)
		[ $# -ge 2 ] || { echo "install.sh: --nats-binary needs a path" >&2; exit 2; }
		NATS_BINARY=$2
		shift
		;;
	-h | --help) usage; exit 0 ;;
	*) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ -n "$ROOT" ] && [ ! -d "$ROOT" ]; then
	echo "install.sh: --root $ROOT is not a directory" >&2
	exit 2
fi
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
	echo "install.sh: run as root (or with --dry-run, or --root DIR)" >&2
	exit 2
fi

CHANGES=0
SKIPPED=0

say() { printf '%s\n' "$*"; }

# change DESC CMD...: a step that acts. Counted; printed; run unless dry.
change() {
	local desc=$1
	shift
	CHANGES=$((CHANGES + 1))
	if [ "$DRY_RUN" = 1 ]; then
		say "would   $desc"
	else
		say "change  $desc"
		"$@"
	fi
}

ok() { say "ok      $*"; }

# system DESC CMD...: a step on the running system (not under --root).
system() {
	local desc=$1
	shift
	if [ -n "$ROOT" ]; then
		SKIPPED=$((SKIPPED + 1))
		say "skip    $desc (--root: needs the running system)"
		return 0
	fi
	change "$desc" "$@"
}

# system_check CMD...: true when a system state holds; under --root it
# cannot be known, and the step that follows is skipped anyway.
system_check() {
	[ -z "$ROOT" ] && "$@" >/dev/null 2>&1
}

p() { printf '%s%s' "$ROOT" "$1"; }

file_mode() { stat -c '%a' "$1"; }

ensure_dir() { # PATH MODE [OWNER]
	local d
	d=$(p "$1")
	if [ ! -d "$d" ]; then
		change "create directory $1 (mode $2)" install -d -m "$2" "$d"
	elif [ "$(file_mode "$d")" != "$2" ]; then
		change "set mode $2 on $1" chmod "$2" "$d"
	else
		ok "directory $1"
	fi
	[ $# -ge 3 ] && ensure_owner "$1" "$3"
	return 0
}

ensure_owner() { # PATH USER:GROUP
	local f
	f=$(p "$1")
	if [ -n "$ROOT" ]; then
		SKIPPED=$((SKIPPED + 1))
		say "skip    owner $2 of $1 (--root)"
	elif [ ! -e "$f" ]; then
		change "owner $2 of $1" chown "$2" "$f"
	elif [ "$(stat -c '%U:%G' "$f")" != "$2" ]; then
		change "owner $2 of $1" chown "$2" "$f"
	else
		ok "owner $2 of $1"
	fi
}

# ensure_file PATH MODE SOURCE: PATH is this script's: replaced when it differs.
ensure_file() {
	local f
	f=$(p "$1")
	if [ -f "$f" ] && cmp -s "$3" "$f"; then
		if [ "$(file_mode "$f")" != "$2" ]; then
			change "set mode $2 on $1" chmod "$2" "$f"
		else
			ok "file $1"
		fi
	else
		change "install $1 (mode $2)" install -m "$2" "$3" "$f"
	fi
}

# ensure_once PATH MODE GENERATOR...: PATH is the operator's (or a key):
# written once, when missing, never overwritten.
ensure_once() {
	local f mode
	f=$(p "$1")
	mode=$2
	shift 2
	if [ -e "$f" ]; then
		ok "file $1 (kept as it is)"
	else
		change "write $1 (mode $mode, once)" write_new "$f" "$mode" "$@"
	fi
}

write_new() { # FILE MODE GENERATOR...
	local f=$1 mode=$2 tmp
	shift 2
	tmp=$(mktemp "$f.XXXXXX")
	"$@" >"$tmp"
	chmod "$mode" "$tmp"
	mv "$tmp" "$f"
}

hexkey() { openssl rand -hex 32; }
mongo_keyfile() { openssl rand -base64 756; }
password() { openssl rand -hex 24; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# --- 0. the system -------------------------------------------------------
OS_ID=debian
OS_CODENAME=bookworm
if [ -r "$(p /etc/os-release)" ]; then
	# shellcheck disable=SC1090
	. "$(p /etc/os-release)"
	OS_ID=${ID:-debian}
	OS_CODENAME=${VERSION_CODENAME:-bookworm}
fi
case "$OS_ID" in
debian) MONGO_REPO="deb [ signed-by=/usr/share/keyrings/mongodb-server-$MONGO_SERIES.gpg ] http://repo.mongodb.org/apt/debian $OS_CODENAME/mongodb-org/$MONGO_SERIES main" ;;
ubuntu) MONGO_REPO="deb [ arch=amd64,arm64 signed-by=/usr/share/keyrings/mongodb-server-$MONGO_SERIES.gpg ] https://repo.mongodb.org/apt/ubuntu $OS_CODENAME/mongodb-org/$MONGO_SERIES multiverse" ;;
*)
	echo "install.sh: $OS_ID is not Debian or Ubuntu" >&2
	exit 2
	;;
esac
say "install.sh: cspm on $OS_ID $OS_CODENAME${ROOT:+ under $ROOT}$([ "$DRY_RUN" = 1 ] && echo ' (dry run: nothing is changed)')"

# --- 1. packages: MongoDB (mongodb-org repository) and NATS --------------
say "== packages"
ensure_dir /etc/apt/sources.list.d 755
ensure_dir /usr/share/keyrings 755
if [ -e "$(p "/usr/share/keyrings/mongodb-server-$MONGO_SERIES.gpg")" ]; then
	ok "mongodb-org signing key"
else
	system "fetch the mongodb-org $MONGO_SERIES signing key" \
		bash -c "curl -fsSL https://pgp.mongodb.com/server-$MONGO_SERIES.asc | gpg --dearmor -o /usr/share/keyrings/mongodb-server-$MONGO_SERIES.gpg"
fi
printf '%s\n' "$MONGO_REPO" >"$STAGE/mongodb-org.list"
ensure_file "/etc/apt/sources.list.d/mongodb-org-$MONGO_SERIES.list" 644 "$STAGE/mongodb-org.list"
if system_check dpkg -s mongodb-org; then
	ok "package mongodb-org"
else
	system "apt-get install mongodb-org (and mongosh)" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mongodb-org"
fi
if [ -n "$NATS_BINARY" ]; then
	ensure_file /usr/sbin/nats-server 755 "$NATS_BINARY"
	if system_check getent passwd nats; then
		ok "user nats"
	else
		system "create system user nats" adduser --system --group --home /nonexistent --no-create-home nats
	fi
elif system_check dpkg -s nats-server; then
	ok "package nats-server"
else
	system "apt-get install nats-server" bash -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server"
fi

# --- 2. the cspm user, directories, binary -------------------------------
say "== cspm"
if system_check getent passwd cspm; then
	ok "user cspm"
else
	system "create system user cspm" adduser --system --group --home /var/lib/cspm --no-create-home --shell /usr/sbin/nologin cspm
fi
ensure_dir /usr/local/bin 755
ensure_dir /etc/cspm 750 root:cspm
ensure_dir /var/lib/cspm 700 cspm:cspm
ensure_dir /var/lib/cspm-audit 700 cspm:cspm
ensure_dir /etc/systemd/system 755
if [ -f "$BINARY" ]; then
	ensure_file /usr/local/bin/cspm 755 "$BINARY"
elif [ "$DRY_RUN" = 1 ]; then
	change "install /usr/local/bin/cspm from $BINARY (missing: build it with make build)" true
else
	echo "install.sh: no cspm binary at $BINARY: run make build, or give --binary" >&2
	exit 1
fi

# --- 3. keys and configuration (written once) ----------------------------
say "== keys and configuration"
ensure_once /etc/cspm/mongodb-admin.password 600 password
ensure_once /etc/cspm/mongodb-cspm.password 600 password
cspm_env() {
	local pw
	pw=$(cat "$(p /etc/cspm/mongodb-cspm.password)" 2>/dev/null || echo PASSWORD)
	sed "s#^CSPM_MONGODB_URI=mongodb://#CSPM_MONGODB_URI=mongodb://cspm:$pw@#; s#?replicaSet=rs0#?authSource=admin\&replicaSet=rs0#" "$SCRIPT_DIR/systemd/cspm.env"
}
ensure_once /etc/cspm/cspm.env 640 cspm_env
ensure_owner /etc/cspm/cspm.env root:cspm
for role in "${ROLES[@]}"; do
	ensure_once "/etc/cspm/$role.env" 640 cat "$SCRIPT_DIR/systemd/$role.env"
	ensure_owner "/etc/cspm/$role.env" root:cspm
done
ensure_once /etc/cspm/integrations.key 600 hexkey
ensure_owner /etc/cspm/integrations.key cspm:cspm
ensure_once /var/lib/cspm-audit/audit.key 600 hexkey
ensure_owner /var/lib/cspm-audit/audit.key cspm:cspm

# --- 4. MongoDB: a single-node replica set with auth ----------------------
say "== MongoDB"
ensure_dir /etc/mongodb 750
ensure_once /etc/mongodb/keyfile 400 mongo_keyfile
ensure_owner /etc/mongodb/keyfile mongodb:mongodb
cat >"$STAGE/mongod.conf" <<'EOF'
# Written by cspm's deploy/install.sh (replaced when it differs).
# A single-node replica set: cspm's event store needs transactions.
storage:
  dbPath: /var/lib/mongodb
systemLog:
  destination: file
  logAppend: true
  path: /var/log/mongodb/mongod.log
net:
  port: 27017
  bindIp: 127.0.0.1
processManagement:
  timeZoneInfo: /usr/share/zoneinfo
replication:
  replSetName: rs0
security:
  authorization: enabled
  keyFile: /etc/mongodb/keyfile
EOF
ensure_file /etc/mongod.conf 644 "$STAGE/mongod.conf"

# --- 5. NATS with JetStream ------------------------------------------------
say "== NATS"
ensure_dir /var/lib/nats 750 nats:nats
cat >"$STAGE/nats-server.conf" <<'EOF'
# Written by cspm's deploy/install.sh (replaced when it differs).
host: 127.0.0.1
port: 4222
http: 127.0.0.1:8222
jetstream {
  store_dir: /var/lib/nats
}
EOF
ensure_file /etc/nats-server.conf 644 "$STAGE/nats-server.conf"
if [ -n "$NATS_BINARY" ]; then
	cat >"$STAGE/nats-server.service" <<'EOF'
# Written by cspm's deploy/install.sh for a nats-server given with --nats-binary.
[Unit]
Description=NATS Server
After=network-online.target

[Service]
Type=simple
ExecStart=/usr/sbin/nats-server -c /etc/nats-server.conf
ExecReload=/bin/kill -s HUP $MAINPID
KillSignal=SIGINT
User=nats
Group=nats
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
EOF
	ensure_file /etc/systemd/system/nats-server.service 644 "$STAGE/nats-server.service"
fi

# --- 6. units ----------------------------------------------------------------
say "== systemd units"
UNITS_BEFORE=$CHANGES
for role in "${ROLES[@]}"; do
	ensure_file "/etc/systemd/system/cspm-$role.service" 644 "$SCRIPT_DIR/systemd/cspm-$role.service"
done
if [ "$CHANGES" != "$UNITS_BEFORE" ] || [ -n "$NATS_BINARY" ]; then
	system "systemctl daemon-reload" systemctl daemon-reload
fi

# --- 7. start the stores, initiate the replica set, create the users -------
say "== services"
for svc in mongod nats-server; do
	if system_check systemctl is-active --quiet "$svc"; then
		ok "$svc running"
	else
		system "enable and start $svc" systemctl enable --now "$svc"
	fi
done
mongo_admin() {
	mongosh --quiet "mongodb://admin:$(cat /etc/cspm/mongodb-admin.password)@127.0.0.1:27017/admin?directConnection=true" "$@"
}
mongo_local() { mongosh --quiet "mongodb://127.0.0.1:27017/admin?directConnection=true" "$@"; }
wait_mongo() {
	for _ in $(seq 60); do
		mongo_local --eval 'db.adminCommand("ping").ok' >/dev/null 2>&1 && return 0
		sleep 1
	done
	echo "install.sh: mongod does not answer on 127.0.0.1:27017 (see /var/log/mongodb/mongod.log)" >&2
	return 1
}
if system_check mongo_admin --eval 'quit(rs.status().ok === 1 ? 0 : 1)'; then
	ok "replica set rs0 initiated"
else
	system "wait for mongod" wait_mongo
	# The localhost exception: no user exists yet on a new node.
	system "initiate replica set rs0 (localhost exception)" mongo_local --eval \
		'try { rs.status() } catch (e) { rs.initiate({_id: "rs0", members: [{_id: 0, host: "127.0.0.1:27017"}]}) }
		 for (let i = 0; i < 60 && !db.hello().isWritablePrimary; i++) sleep(1000)'
fi
if system_check mongo_admin --eval 'quit(db.getUser("admin") ? 0 : 1)'; then
	ok "MongoDB user admin"
else
	# shellcheck disable=SC2016 # expanded by the inner bash, as root, not here
	system "create MongoDB user admin (root)" bash -c 'mongosh --quiet "mongodb://127.0.0.1:27017/admin?directConnection=true" --eval "db.createUser({user: \"admin\", pwd: \"$(cat /etc/cspm/mongodb-admin.password)\", roles: [\"root\"]})"'
fi
if system_check mongo_admin --eval 'quit(db.getUser("cspm") ? 0 : 1)'; then
	ok "MongoDB user cspm"
else
	# shellcheck disable=SC2016 # expanded by the inner bash, as root, not here
	system "create MongoDB user cspm (readWriteAnyDatabase, clusterMonitor)" bash -c 'mongosh --quiet "mongodb://admin:$(cat /etc/cspm/mongodb-admin.password)@127.0.0.1:27017/admin?directConnection=true" --eval "db.createUser({user: \"cspm\", pwd: \"$(cat /etc/cspm/mongodb-cspm.password)\", roles: [\"readWriteAnyDatabase\", \"clusterMonitor\"]})"'
fi
for role in "${ROLES[@]}"; do
	if system_check systemctl is-enabled --quiet "cspm-$role"; then
		ok "cspm-$role enabled"
	else
		system "enable and start cspm-$role" systemctl enable --now "cspm-$role"
	fi
done

say "install.sh: $CHANGES change(s), $SKIPPED skipped$([ "$DRY_RUN" = 1 ] && echo ' (dry run: none made)')"
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ]; then
	say "The first start of cspm-api printed the admin API key once: journalctl -u cspm-api | grep -A3 'admin API key'; it is also in /var/lib/cspm/admin.key."
	say "Back up, apart from the databases: /var/lib/cspm-audit/audit.key, /etc/cspm/integrations.key, /etc/cspm/mongodb-*.password (docs/operations.md)."
fi
