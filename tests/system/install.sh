#!/usr/bin/env bash
# `meson install --destdir` puts every file where expected and nothing else; the programs run,
# the unit starts the installed daemon, man pages render without warnings and cover every
# option of --help, and the bash completion completes commands, options, -o values and names.
source "$(dirname "$0")/lib.sh"
need groff groff-base
need man man-db

install_to "$T/root"
cd "$T/root" || fail "no $T/root"

# Exactly these files, relative to the destdir.
expected=(
  "$BINDIR/k3s-snapd" "$BINDIR/snapctl"
  "$UNITDIR/k3s-snapd.service"
  "$MANDIR/man8/k3s-snapd.8" "$MANDIR/man1/snapctl.1"
  "$DATADIR/bash-completion/completions/snapctl"
  "$SYSCONFDIR/k3s-snapd.d/10-k3s-snapd.yaml.example"
  "$SYSCONFDIR/k3s-snapd.d/20-s3.yaml.example"
  "$SYSCONFDIR/k3s-snapd.d/30-compression-encryption.yaml.example"
  "$DATADIR/k3s-snapd/k3s-snapd-alerts.yaml"
  "$DATADIR/doc/k3s-snapd/README.md" "$DATADIR/doc/k3s-snapd/config-reference.md"
  "$DATADIR/doc/k3s-snapd/api.md"
)
printf '.%s\n' "${expected[@]}" | sort >"$T/expected"
find . -type f -o -type l | sort >"$T/installed"
diff -u "$T/expected" "$T/installed" >"$T/diff" ||
  fail "installed files differ from the expected ones (- missing, + unexpected): $(cat "$T/diff")"

for f in "$BINDIR/k3s-snapd" "$BINDIR/snapctl"; do
  [ "$(stat -c %a ".$f")" = 755 ] || fail "$f has mode $(stat -c %a ".$f"), want 755"
done
for f in "${expected[@]:2}"; do
  [ "$(stat -c %a ".$f")" = 644 ] || fail "$f has mode $(stat -c %a ".$f"), want 644"
done

# The programs run from where they were installed.
version=$(".$BINDIR/k3s-snapd" --version)
[[ $version == "k3s-snapd "[0-9]* ]] || fail "k3s-snapd --version printed '$version'"
".$BINDIR/snapctl" --help | grep -q '^Usage: snapctl' || fail "snapctl --help printed no usage"

# The unit starts the installed daemon: the prefix reached ExecStart, nothing is left unfilled.
unit=".$UNITDIR/k3s-snapd.service"
grep -qx "ExecStart=$BINDIR/k3s-snapd" "$unit" || fail "unit has $(grep ExecStart= "$unit")"
! grep -n '@[a-z]*@' "$unit" || fail "unit has unreplaced @variables@"

# Examples are never read by the daemon: nothing installed as *.yaml or *.yml there.
if compgen -G ".$SYSCONFDIR/k3s-snapd.d/*.y*ml" >/dev/null; then
  fail "a drop-in the daemon would read was installed: $(ls ".$SYSCONFDIR/k3s-snapd.d")"
fi

# Man pages render without a single warning, with groff and with man.
for page in ".$MANDIR/man8/k3s-snapd.8" ".$MANDIR/man1/snapctl.1"; do
  out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1) || fail "groff failed on $page: $out"
  [ -z "$out" ] || fail "groff warns about $page: $out"
  out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null) ||
    fail "man failed on $page: $out"
  [ -z "$out" ] || fail "man warns about $page: $out"
done

# The pages cover what the programs and the docs say: every option of --help, every command
# of snapctl, every configuration key of docs/config-reference.md.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$1"; }
plain ".$MANDIR/man8/k3s-snapd.8" >"$T/k3s-snapd.txt"
plain ".$MANDIR/man1/snapctl.1" >"$T/snapctl.txt"
for opt in $(".$BINDIR/k3s-snapd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
  grep -qF -- "$opt" "$T/k3s-snapd.txt" || fail "k3s-snapd.8 does not mention $opt"
done
for key in $(grep -o '^| `[a-z0-9-]*`' "$SOURCE_DIR/docs/config-reference.md" | tr -d '|` '); do
  grep -qF -- "$key" "$T/k3s-snapd.txt" || fail "k3s-snapd.8 does not mention the key $key"
done
# snapctl: the global options, every command and alias, and every option of each command's
# --help are in the page.
snapctl_bin=".$BINDIR/snapctl"
help=$("$snapctl_bin" --help)
commands=$(awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }' <<<"$help")
aliases=$(grep -o 'alias[a-z]*: [a-z, ]*' <<<"$help" | sed 's/.*: //' | tr -d ',')
[ -n "$commands" ] && [ -n "$aliases" ] || fail "found no commands or aliases in: $help"
for opt in $(grep -o -- '--[a-z][a-z-]*\|-[a-z]\b' <<<"$help" | sort -u); do
  grep -qF -- "$opt" "$T/snapctl.txt" || fail "snapctl.1 does not mention $opt"
done
for command in $commands $aliases; do
  grep -q "^\.B.*\b$command\b" "$T/snapctl.txt" || fail "snapctl.1 does not describe '$command'"
done
for command in $commands; do
  command_opts=$("$snapctl_bin" "$command" --help | grep -o -- '--[a-z][a-z-]*\|-[a-z]\b' | sort -u)
  for opt in $command_opts; do
    grep -qF -- "$opt" "$T/snapctl.txt" || fail "snapctl.1 does not mention $command $opt"
  done
done

# Bash completion. A stand-in snapctl answers `ls -o name` like the real one (a name held by
# two stores appears twice) and logs its arguments, so names and --socket can be checked.
completion=".$DATADIR/bash-completion/completions/snapctl"
cat >"$T/fake-snapctl" <<'FAKE'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/fake-args"
[ -n "${FAKE_DOWN:-}" ] && { echo "snapctl: cannot connect" >&2; exit 1; }
printf '%s\n' on-demand-n1-1700000100 etcd-snapshot-n1-1700000000 etcd-snapshot-n1-1700000000
FAKE
chmod +x "$T/fake-snapctl"

# complete_words WITH_BASH_COMPLETION WORD...: what bash offers for the last word, sorted.
complete_words() {
  local framework=$1
  shift
  bash --norc --noprofile -c '
    framework=$1 completion=$2
    shift 2
    if [ "$framework" = yes ]; then source /usr/share/bash-completion/bash_completion; fi
    source "$completion"
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    # As readline splits "--output=j": words "--output" "=" "j", the line without spaces.
    COMP_LINE="$*"
    COMP_LINE=${COMP_LINE// = /=}
    [[ $COMP_LINE == *" =" ]] && COMP_LINE="${COMP_LINE% =}="
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _snapctl snapctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    if ((${#COMPREPLY[@]})); then printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "; fi
  ' _ "$framework" "$completion" "$@"
}
expect_completion() {
  local framework=$1 want=$2
  shift 2
  local got
  got=$(complete_words "$framework" "$@" 2>"$T/completion.err")
  [ "$got" = "$want" ] ||
    fail "completing '$*' (bash-completion: $framework) gave '$got', want '$want'"
  [ ! -s "$T/completion.err" ] || fail "completing '$*' printed: $(cat "$T/completion.err")"
}
sorted_words() { printf '%s\n' "$@" | LC_ALL=C sort -u | tr '\n' ' '; }

frameworks=(no)
if [ -f /usr/share/bash-completion/bash_completion ]; then frameworks+=(yes); fi
for fw in "${frameworks[@]}"; do
  # Commands and their aliases, the -o values and the long options of each command's --help.
  # shellcheck disable=SC2086
  expect_completion "$fw" "$(sorted_words $commands $aliases)" snapctl ""
  expect_completion "$fw" "save status " snapctl s
  expect_completion "$fw" "--help --socket --version " snapctl --
  for command in $commands; do
    [ "$command" = help ] && continue
    command_help=$("$snapctl_bin" "$command" --help)
    # The usage paragraph may wrap: its lines joined.
    usage=$(awk '/^Usage:/ { u = 1 } u && /^$/ { exit } u { printf "%s ", $0 }' <<<"$command_help")
    formats=$(sed -n 's/^Usage:.*\[-o \([a-z|]*\)\].*/\1/p' <<<"$usage" | tr '|' ' ')
    [ -n "$formats" ] || fail "no -o values in '$command --help'"
    # shellcheck disable=SC2086
    expect_completion "$fw" "$(sorted_words $formats)" snapctl "$command" -o ""
    # shellcheck disable=SC2086
    expect_completion "$fw" "$(sorted_words $formats)" snapctl "$command" --output ""
    # The options a command's help lists: lines indented by exactly two spaces.
    long=$(sed -n 's/^  \(-[a-z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' <<<"$command_help" | sort -u)
    # shellcheck disable=SC2086
    expect_completion "$fw" "$(sorted_words $long)" snapctl "$command" --
  done
  expect_completion "$fw" "json " snapctl save -o j
  expect_completion "$fw" "" snapctl prune --name ""
  expect_completion "$fw" "prune " snapctl help p

  rm -f "$T/fake-args"
  expect_completion "$fw" "etcd-snapshot-n1-1700000000 on-demand-n1-1700000100 " \
    "$T/fake-snapctl" --socket /x/s.sock delete ""
  [ "$(cat "$T/fake-args")" = "--socket /x/s.sock ls -o name" ] ||
    fail "completion ran snapctl with '$(cat "$T/fake-args")'"
  expect_completion "$fw" "on-demand-n1-1700000100 " \
    "$T/fake-snapctl" rm etcd-snapshot-n1-1700000000 on
  # The daemon is away: no names, and not a word on the terminal.
  FAKE_DOWN=1 expect_completion "$fw" "" "$T/fake-snapctl" delete ""
done
# With bash-completion, "--output=" completes the value after the "=".
if [[ " ${frameworks[*]} " == *" yes "* ]]; then
  expect_completion yes "json text " snapctl status --output =
  expect_completion yes "json " snapctl status --output = j
fi
echo "install: ok"
