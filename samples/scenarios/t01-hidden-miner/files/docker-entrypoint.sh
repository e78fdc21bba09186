#!/bin/sh
# vim:sw=4:ts=4:et
set -e

entrypoint_log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    entrypoint_log "$0: Looking for shell scripts in /docker-entrypoint.d/"
    for f in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    entrypoint_log "$0: Launching $f"
                    "$f"
                fi
                ;;
            *) entrypoint_log "$0: Ignoring $f" ;;
        esac
    done
    entrypoint_log "$0: Configuration complete; ready for start up"
fi

exec "$@"
