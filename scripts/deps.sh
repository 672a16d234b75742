#!/usr/bin/env bash
# Installs what Sluice's tests need, and only what is missing, so a second
# run takes seconds:
#   - Debian packages for the real servers the tests start (internal/servers):
#     mariadb-server mariadb-client postgresql-15 postgresql-client-15
#     postgresql-15-wal2json redis-server nats-server, the coordinators
#     etcd-server and zookeeper (which brings a Java runtime), kcat
#     (librdkafka's client, the independent consumer of the Kafka tests),
#     prometheus (its promtool checks the /metrics output) and chromium (the
#     dashboard's browser test drives it headless)
#   - the system user "postgres" (PostgreSQL refuses to run as root; the
#     postgresql-15 package creates the user, this makes sure it exists)
#   - Go modules of the main module and of tools/ferretdb
#   - the FerretDB test server binary and the kfake Kafka cluster program,
#     built into the cache internal/servers uses
# Needs root (or sudo) only when something must be installed.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "need root to run: $*"
		return 1
	fi
}

# Each line: a file that proves the package is installed, and the package.
required=(
	"/usr/sbin/mariadbd mariadb-server"
	"/usr/bin/mariadb-install-db mariadb-server"
	"/usr/bin/mariadb mariadb-client"
	"/usr/bin/mariadb-binlog mariadb-client"
	"/usr/lib/postgresql/15/bin/initdb postgresql-15"
	"/usr/lib/postgresql/15/bin/postgres postgresql-15"
	"/usr/lib/postgresql/15/bin/psql postgresql-client-15"
	"/usr/lib/postgresql/15/lib/wal2json.so postgresql-15-wal2json"
	"/usr/bin/redis-server redis-server"
	"/usr/sbin/nats-server nats-server"
	"/usr/bin/etcd etcd-server"
	"/usr/share/java/zookeeper.jar zookeeper"
	"/usr/bin/java zookeeper"
	"/usr/bin/kcat kcat"
	"/usr/bin/mydumper mydumper"
	"/usr/bin/promtool prometheus"
	"/usr/bin/chromium chromium"
)

missing=()
for entry in "${required[@]}"; do
	file=${entry% *}
	pkg=${entry#* }
	if [ ! -e "$file" ]; then
		case " ${missing[*]-} " in
		*" $pkg "*) ;;
		*) missing+=("$pkg") ;;
		esac
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Installing server packages must not start their system services (they
	# would take the default ports and are never used by the tests).
	policy_added=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
		policy_added=1
	fi
	status=0
	as_root apt-get update -q || status=$?
	if [ "$status" -eq 0 ]; then
		as_root apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
	fi
	if [ -n "$policy_added" ]; then
		as_root rm -f /usr/sbin/policy-rc.d
	fi
	if [ "$status" -ne 0 ]; then
		log "apt-get failed ($status)"
		exit "$status"
	fi
else
	log "Debian packages present"
fi

if ! id postgres >/dev/null 2>&1; then
	log "creating system user postgres"
	as_root useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres
fi

# Go lives in /usr/local/go on these machines; PATH may not name it.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
log "go mod download"
go mod download
(cd tools/ferretdb && GOWORK=off go mod download)

log "building the FerretDB test server"
go run ./internal/servers/cmd/build-ferretdb >/dev/null
log "building the kfake Kafka test cluster"
go run ./internal/servers/cmd/build-kfake >/dev/null

log "ready"
