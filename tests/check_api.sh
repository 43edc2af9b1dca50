#!/bin/sh
# The library surface: libinfoflow.so exports nothing but iflow_* symbols, and every function
# declared in include/infoflow/ carries IFLOW_API and its header extern "C" guards.
# Usage: check_api.sh LIBRARY SOURCE_ROOT
set -eu
lib=$1 root=$2
leaked=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^iflow_' | grep -v '^_' || true)
if [ -n "$leaked" ]; then
    echo "$lib exports symbols outside the iflow_ prefix:"; echo "$leaked"; exit 1
fi
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^iflow_')
declared=$(grep -ho 'IFLOW_API [^(]*iflow_[A-Za-z0-9_]*(' "$root"/include/infoflow/*.h | grep -o 'iflow_[A-Za-z0-9_]*(' | tr -d '(' | sort -u)
missing=""
for f in $declared; do
    nm -D --defined-only "$lib" | awk '{print $3}' | grep -qx "$f" || missing="$missing $f"
done
if [ -n "$missing" ]; then echo "declared IFLOW_API but not exported:$missing"; exit 1; fi
/usr/bin/python3 "$root/tools/export_api.py" --check
echo "libinfoflow exports $count iflow_ functions, all declared in include/infoflow/"
