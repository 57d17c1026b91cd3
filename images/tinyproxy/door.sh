#!/bin/sh
# Writes tinyproxy's configuration from the environment and runs it in the foreground.
#   DOOR_ALLOW     host names allowed, separated by spaces (exact names, no patterns)
#   DOOR_UPSTREAM  optional upstream proxy, host:port (or user:pass@host:port)
set -eu
dir=/tmp/door
mkdir -p "$dir"
: > "$dir/filter"
for host in ${DOOR_ALLOW:-}; do
    # Exact names only: dots escaped, anchored at both ends.
    printf '^%s$\n' "$(printf %s "$host" | sed 's/\./\\./g')" >> "$dir/filter"
done
{
    echo 'Port 8888'
    echo 'Listen 0.0.0.0'
    echo 'Timeout 300'
    echo 'MaxClients 64'
    echo 'LogLevel Connect'
    echo 'DisableViaHeader Yes'
    echo "Filter \"$dir/filter\""
    echo 'FilterType ere'
    echo 'FilterURLs Off'
    echo 'FilterDefaultDeny Yes'
    echo 'ConnectPort 443'
    if [ -n "${DOOR_UPSTREAM:-}" ]; then
        echo "Upstream http $DOOR_UPSTREAM"
    fi
} > "$dir/tinyproxy.conf"
exec tinyproxy -d -c "$dir/tinyproxy.conf"
