#!/usr/bin/env bash
# Creates (or empties) database NAME on the server of ADMIN_URL and prints its URL:
#   tools/pg-scratch-db.sh postgres://formscan@127.0.0.1:55432/postgres my_test
set -euo pipefail
admin=$1
name=$2
psql "$admin" -v ON_ERROR_STOP=1 -q -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
echo "${admin%/*}/$name"
