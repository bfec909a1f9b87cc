#!/usr/bin/env bash
# The closed-network serverless application (examples/closed-network.yaml), end to end,
# as root, with one command:
#   1. deploys it: the network (cove apply), PostgreSQL in the data VPC with the
#      inventory, and `cove serve` (the functions, the object store behind the S3
#      endpoint, the private API behind the execute-api endpoint);
#   2. uploads the single-page front end with the AWS CLI from the corporate desktop,
#      through the S3 endpoint, signed with the tenant's key (`cove access-key`);
#   3. opens http://spa-assets.s3.us-east-1.amazonaws.com/index.html in a headless
#      Chromium on the desktop (its DNS is the corporate VPC's resolver): the page calls
#      the private API, whose function queries PostgreSQL; prints what the page shows;
#   4. saves a screenshot (CN_SCREENSHOT, default ./closed-network.png), and explains
#      both flows by name with `cove check`, the bucket's and the API's policies included;
#   5. shows that from the internet (the outside namespace) neither the page nor the
#      API answers, and `cove check` explains why;
#   then removes everything (CN_KEEP=1 leaves it running until Ctrl-C).
# COVE_PREFIX (default closed), COVE_STATE_DIR and COVE_BIN (default: a release build)
# choose the deployment and the binary. Debian's chromium, chromium-driver and
# postgresql, and PyPI's selenium and awscli are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COVE_PREFIX=${COVE_PREFIX:-closed}
export COVE_STATE_DIR=${COVE_STATE_DIR:-/var/lib/cove}
shot=$(realpath -m "${CN_SCREENSHOT:-closed-network.png}")
spec=examples/closed-network.yaml
here=examples/closed-network
[ "$(id -u)" = 0 ] || { echo "run.sh needs root (network namespaces)" >&2; exit 1; }

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c 'import selenium' 2>/dev/null || python3 -m pip install -q --break-system-packages selenium==4.27.1
command -v aws >/dev/null || python3 -m pip install -q --break-system-packages awscli==1.45.11
bash scripts/install-runtimes.sh >/dev/null
cove=${COVE_BIN:-}
if [ -z "$cove" ]; then
  cargo build --release --locked -q -p cove
  cove=target/release/cove
fi

serve=""; pg=""; pgdata=""; ns=""; deployed=""; work=$(mktemp -d)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [ -n "$serve" ] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
  if [ -n "$pgdata" ] && [ -f "$pgdata/data/postmaster.pid" ]; then
    runuser -u postgres -- "$pg/pg_ctl" stop -s -m immediate -D "$pgdata/data" >/dev/null 2>&1
  fi
  [ -n "$pgdata" ] && rm -rf "$pgdata"
  [ -n "$ns" ] && rm -rf "/etc/netns/$ns"
  [ -n "$deployed" ] && "$cove" destroy >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step() { echo; echo "== $*"; }

step "1. deploy: network, PostgreSQL, cove serve"
deployed=1
"$cove" apply -f "$spec"
pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdata=$(mktemp -d); chown postgres "$pgdata"
runuser -u postgres -- "$pg/initdb" -A trust -U postgres -D "$pgdata/data" >/dev/null
echo "host all all 10.50.1.0/24 trust" >> "$pgdata/data/pg_hba.conf"
"$cove" exec corp/data/postgres -- runuser -u postgres -- "$pg/pg_ctl" start -s -w \
  -D "$pgdata/data" -l "$pgdata/log" \
  -o "-c listen_addresses=10.60.1.10 -c unix_socket_directories=$pgdata"
runuser -u postgres -- psql -q -h "$pgdata" -U postgres -c 'CREATE DATABASE inventory'
runuser -u postgres -- psql -q -h "$pgdata" -U postgres -d inventory -f - < "$here/seed.sql"
echo "PostgreSQL on 10.60.1.10:5432 (corp/data/postgres) with $(runuser -u postgres -- psql -tA -h "$pgdata" -U postgres -d inventory -c 'SELECT count(*) FROM items') items"
"$cove" serve --listen 127.0.0.1:0 --no-api > "$work/serve.log" 2>&1 &
serve=$!

step "2. upload the front end from the corporate desktop through the S3 endpoint"
ns=$("$cove" exec corp/onprem/desktop -- ip netns identify)
mkdir -p "/etc/netns/$ns"
# The desktop's DNS: its VPC's resolver, which answers the AWS names with the endpoints.
echo "nameserver 172.16.0.2" > "/etc/netns/$ns/resolv.conf"
in_desktop() { ip netns exec "$ns" "$@"; }
for _ in $(seq 100); do
  code=$(in_desktop curl -s -o /dev/null -m 2 -w '%{http_code}' http://s3.us-east-1.amazonaws.com/spa-assets/ || true)
  [ "$code" != "000" ] && break
  sleep 0.3
done
eval "$("$cove" access-key --tenant corp | grep '^AWS_')"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
printf '[default]\ns3 =\n    addressing_style = path\n' > "$work/aws-config"
export AWS_CONFIG_FILE="$work/aws-config" AWS_EC2_METADATA_DISABLED=true
in_desktop aws --endpoint-url http://s3.us-east-1.amazonaws.com s3 sync "$here/spa" s3://spa-assets/
in_desktop aws --endpoint-url http://s3.us-east-1.amazonaws.com s3 ls s3://spa-assets/

step "3. open the page in headless Chromium on the desktop"
url=http://spa-assets.s3.us-east-1.amazonaws.com/index.html
result=$(in_desktop python3 "$here/browser.py" "$url" "$shot")
echo "$result" | python3 -m json.tool
echo "RESULT $result"
echo "$result" > "$work/result.json"
python3 - "$work/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["state"] == "ok" and len(r["rows"]) == 3, r
PY

step "4. screenshot: $shot"

step "the analyzer, by name: the desktop to the page and to the API, policies included"
"$cove" check --from corp/onprem/desktop --to spa-assets.s3.us-east-1.amazonaws.com \
  --proto tcp --port 80 --http-path /index.html
"$cove" check --from corp/onprem/desktop --to c1o2v3e4a5.execute-api.us-east-1.amazonaws.com \
  --proto tcp --port 80 --http-path /items/1

step "5. from the internet: nothing answers"
outside="$COVE_PREFIX-outside"
ip netns list | grep -q "^$outside\b" || { echo "no outside namespace $outside" >&2; exit 1; }
for target in 10.50.1.20 10.50.1.30; do
  if ip netns exec "$outside" curl -s -m 3 -o /dev/null "http://$target/"; then
    echo "the internet reached $target" >&2; exit 1
  fi
  echo "UNREACHED internet -> $target:80"
done
for target in 10.50.1.20 10.50.1.30; do
  rc=0; "$cove" check --from internet --to "$target" --proto tcp --port 80 || rc=$?
  [ "$rc" = 3 ] || { echo "cove check did not say BLOCKED (exit $rc)" >&2; exit 1; }
done

if [ -n "${CN_KEEP:-}" ]; then
  echo; echo "running; Ctrl-C removes everything"
  wait "$serve"
fi
echo; echo "closed-network example: ok"
