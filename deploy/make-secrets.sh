#!/bin/sh
# Creates the secrets files docker-compose.yml mounts, each a random value, in deploy/secrets
# (or the folder given as the first argument). A file that exists is kept: the databases took
# its value when their volumes were created.
#
# Run it as root (sudo): Docker Compose mounts a file secret with its owner and mode on the
# host, so the files Dosis reads must belong to the uid the Dosis image runs as. With rootless
# Docker, or to run it as that user, set DOSIS_SECRETS_UID to that uid as the host sees it.
set -eu

dir=${1:-$(dirname "$0")/secrets}
# The Dosis image's user (Dockerfile: useradd --uid 10001).
dosis_uid=${DOSIS_SECRETS_UID:-10001}

if [ "$(id -u)" != 0 ] && [ "$(id -u)" != "$dosis_uid" ]; then
    echo "make-secrets.sh: run as root (sudo), so that the secrets Dosis reads can belong to uid $dosis_uid," >&2
    echo "or set DOSIS_SECRETS_UID to the uid the Dosis container runs as (as the host sees it)." >&2
    exit 1
fi

umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
# The administrator who ran sudo may list the folder; the files stay readable only by their owners.
chown "${SUDO_UID:-$(id -u)}" "$dir"

# 32 random bytes as URL-safe base64 without padding: 43 characters, safe in a URL and in SQL.
random_value() {
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

# create NAME OWNER: a new secret file NAME owned by uid OWNER, mode 0400; kept if it exists.
create() {
    file=$dir/$1
    if [ -e "$file" ]; then
        echo "kept    $file"
        return
    fi
    random_value >"$file.new"
    chown "$2" "$file.new"
    chmod 0400 "$file.new"
    mv "$file.new" "$file"
    echo "created $file"
}

create dosis_database_password "$dosis_uid"
create influxdb_admin_token "$dosis_uid"
create influxdb_admin_password "$(id -u)"
