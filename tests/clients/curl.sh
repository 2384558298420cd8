#!/usr/bin/env bash
# The curl calls other clients make: a browser-style form POST and a query-string POST to the
# legacy decoder, and DeepScan's documented calls (single URL, single base64, batch of URLs,
# upload). Each asserts the field that client reads.
#
# Usage: curl.sh BASE KEY IMAGE_URL IMAGE_FILE EXPECTED_TEXT SECOND_URL SECOND_TEXT
set -euo pipefail
base=$1 key=$2 url=$3 file=$4 expected=$5 second_url=$6 second=$7
python=${PYTHON:-python3}

# json_field PATH: prints the field at PATH (dots, list indices) of the JSON on stdin.
json_field() {
  "$python" -c '
import json, sys
value = json.load(sys.stdin)
for part in sys.argv[1].split("."):
    value = value[int(part)] if part.isdigit() else value[part]
print(value)' "$1"
}

expect() { # NAME ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then
    echo "curl.sh: $1: got '$2', expected '$3'" >&2
    exit 1
  fi
  echo "$1: $2"
}

ua='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'

# A browser's form submission: urlencoded fields, the browser's own headers.
answer=$(curl -sS -X POST "$base/Api/Browser/deqr" \
  -H "User-Agent: $ua" -H 'Origin: https://cli.im' -H 'Referer: https://cli.im/deqr' \
  -H 'Accept: application/json, text/javascript, */*; q=0.01' -H 'X-Requested-With: XMLHttpRequest' \
  --data-urlencode "data=$url" --data-urlencode "key=$key")
expect "browser-style form POST deqr: data.RawData" "$(json_field data.RawData <<<"$answer")" "$expected"

# Everything in the query string, an empty POST body (scrapers do this).
query=$("$python" -c 'import sys, urllib.parse; print(urllib.parse.urlencode({"data": sys.argv[1], "key": sys.argv[2]}))' "$url" "$key")
answer=$(curl -sS -X POST "$base/api/browser/deqr?$query" -H 'Content-Length: 0')
expect "query-string POST deqr (lower-case path): data.RawData" "$(json_field data.RawData <<<"$answer")" "$expected"

auth="Authorization: Bearer $key"
answer=$(curl -sS -X POST "$base/x-deepscan/vision/detect" -H 'Content-Type: application/json' \
  -H "$auth" -d "{\"url\": \"$url\"}")
expect "DeepScan single URL: codes[0].content" "$(json_field codes.0.content <<<"$answer")" "$expected"

answer=$(curl -sS -X POST "$base/x-deepscan/vision/detect" -H 'Content-Type: application/json' \
  -H "$auth" -d "{\"image\": \"$(base64 -w0 "$file")\"}")
expect "DeepScan single base64: codes[0].content" "$(json_field codes.0.content <<<"$answer")" "$expected"

answer=$(curl -sS -X POST "$base/x-deepscan/vision/detect" -H 'Content-Type: application/json' \
  -H "$auth" -d "{\"urls\": [\"$url\", \"$second_url\"]}")
expect "DeepScan batch of URLs: results[0].codes[0].content" "$(json_field results.0.codes.0.content <<<"$answer")" "$expected"
expect "DeepScan batch of URLs: results[1].codes[0].content" "$(json_field results.1.codes.0.content <<<"$answer")" "$second"

answer=$(curl -sS -X POST "$base/x-deepscan/vision/detect/upload" -H "$auth" -F "file=@$file")
expect "DeepScan upload: codes[0].content" "$(json_field codes.0.content <<<"$answer")" "$expected"

status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/x-deepscan/vision/detect" -d '{"url": "x"}')
expect "DeepScan without a key: HTTP status" "$status" 401
