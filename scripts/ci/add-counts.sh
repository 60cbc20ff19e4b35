#!/usr/bin/env bash
# Adds two `N passed, N failed` lines (a missing or garbled one counts as one failure).
read -r p1 _ f1 _ <<<"${1:-0 passed, 1 failed}"
read -r p2 _ f2 _ <<<"${2:-0 passed, 1 failed}"
[[ "$p1$f1$p2$f2" =~ ^[0-9]+$ ]] || { p1=0; f1=1; p2=0; f2=1; }
echo "$((p1 + p2)) passed, $((f1 + f2)) failed"
