#!/usr/bin/env bash
# The main job on a fresh machine: install, build, fetch a real codebase from the
# npm registry (Express and friends, pinned), index it, query it and ask it a question.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run build --silent
repo=$(node --input-type=module -e "import { corpus } from './bench/corpus.mjs'; console.log(corpus('demo'))")
store=bench/.work/demo-store
engram() { node bin/engram.js "$@" --repo "$repo" --store "$store"; }
echo "== engram index ($repo)"
engram index
echo "== engram status"
engram status
echo "== engram search \"parse urlencoded request body\""
engram search "parse urlencoded request body" --k 5
first=$(engram search "parse urlencoded request body" --k 1 --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).results[0].blockId))")
echo "== engram inspect $first"
engram inspect "$first"
question='Where is the function `createETagGenerator` defined?'
echo "== engram ask \"$question\""
engram ask "$question"
