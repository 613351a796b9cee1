#!/usr/bin/env bash
# The shipped Prometheus alert rules load (`promtool check rules`) and fire when they should
# and only then (`promtool test rules` with tests/system/alert_rules_test.yaml).
source "$(dirname "$0")/lib.sh"
need promtool prometheus

rules="$SOURCE_DIR/etc/k3s-snapd-alerts.yaml"
promtool check rules "$rules" >"$T/check.log" 2>&1 ||
  fail "promtool check rules: $(cat "$T/check.log")"
grep -q 'SUCCESS: 3 rules found' "$T/check.log" ||
  fail "unexpected rule count: $(cat "$T/check.log")"

# The test file names the rules file relative to itself.
cp "$rules" "$(dirname "$0")/alert_rules_test.yaml" "$T/"
promtool test rules "$T/alert_rules_test.yaml" >"$T/test.log" 2>&1 ||
  fail "promtool test rules: $(cat "$T/test.log")"
echo "alert rules: ok"
