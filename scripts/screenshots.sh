#!/usr/bin/env bash
# Screenshots of the HTML error page, as headless Chromium shows it, from
# the running demo (examples/gateway-demo): a 502 (refused), a 503 with
# Retry-After, a 504 for a POST and a relayed 404, each in light, dark and
# 320 px wide. Writes docs/screenshots/*.png. Loopback only.
#
#   bash scripts/screenshots.sh            # needs chromium (Debian: apt-get install chromium)
#
# The POST is a real one: Chromium opens a local page whose form posts to
# the demo (a browser cannot POST from its address bar), and the
# screenshot is of the gateway's answer.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-18622}"
out=docs/screenshots
work="$(mktemp -d)"
demo_pid=
cleanup() {
    if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

command -v chromium >/dev/null || { echo "chromium not found (apt-get install chromium)" >&2; exit 1; }
cargo build -q -p gateway-demo
target="${CARGO_TARGET_DIR:-target}"
"$target/debug/gateway-demo" --serve "127.0.0.1:$port" >"$work/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 50); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/upstream/ok"; then break; fi
    sleep 0.2
done

# The POST: a form that submits itself (this helper page, not the error
# page, runs the script).
cat >"$work/post.html" <<HTML
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>POST</title></head>
<body><form method="post" action="http://127.0.0.1:$port/upstream/hang"><input type="hidden" name="order" value="42"></form>
<script>document.forms[0].submit()</script></body></html>
HTML

# name, URL
pages=(
    "502-refused http://127.0.0.1:$port/upstream/refused"
    "503-retry-after http://127.0.0.1:$port/upstream/unavailable"
    "504-post file://$work/post.html"
    "502-relayed-404 http://127.0.0.1:$port/products/7"
)
# name, window size, extra flags
modes=(
    "light 1024,600"
    "dark 1024,600 --blink-settings=preferredColorScheme=0"
    "320 320,1000"
)

mkdir -p "$out"
for page in "${pages[@]}"; do
    read -r name url <<<"$page"
    for mode in "${modes[@]}"; do
        read -r label size flags <<<"$mode"
        profile="$(mktemp -d "$work/profile.XXXX")"
        # A new empty profile each time; the time budget lets the POST's
        # navigation (the demo's 1 s upstream timeout) finish.
        timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic \
            --no-first-run --disable-background-networking --disable-component-update \
            --disable-sync --hide-scrollbars --user-data-dir="$profile" \
            --window-size="$size" --virtual-time-budget=5000 ${flags:+"$flags"} \
            --screenshot="$out/$name-$label.png" "$url" >/dev/null 2>&1
        echo "$out/$name-$label.png"
    done
done
