#!/bin/bash
# Prints each argument on its own line, exactly as received: hostile values
# given with -P arrive as literal text.
for arg in "$@"; do
    printf 'arg: [%s]\n' "$arg"
done
