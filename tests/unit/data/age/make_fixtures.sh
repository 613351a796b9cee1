#!/bin/sh
# Regenerates the age test fixtures with the real age and age-keygen (Debian's age package).
# Plaintexts are the pattern byte(i) = ((i * 31) ^ (i >> 9)) & 0xff, which age_test.cc also
# generates; only the ciphertexts and keys are stored.
set -eu
cd "$(dirname "$0")"
rm -f identity.txt identity2.txt
age-keygen -o identity.txt 2>/dev/null
age-keygen -o identity2.txt 2>/dev/null
age-keygen -y identity.txt >recipient.txt
age-keygen -y identity2.txt >recipient2.txt

pattern() { python3 -c "import sys; sys.stdout.buffer.write(bytes(((i * 31) ^ (i >> 9)) & 0xff for i in range($1)))"; }

encrypt() {  # size, output, recipients...
  size=$1 out=$2
  shift 2
  pattern "$size" | age "$@" -o "$out"
}
encrypt 0 empty.age -r "$(cat recipient.txt)"
encrypt 100 small.age -r "$(cat recipient.txt)"
encrypt 65536 chunk.age -r "$(cat recipient.txt)"
encrypt 65537 chunk_plus_one.age -r "$(cat recipient.txt)"
encrypt 200000 large.age -r "$(cat recipient.txt)"
encrypt 5000 two_recipients.age -r "$(cat recipient.txt)" -r "$(cat recipient2.txt)"
