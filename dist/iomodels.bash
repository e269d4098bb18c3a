# SPDX-License-Identifier: MIT
# bash completion for iomodels. Commands, options and names are read from the binary itself
# (help, scenario list, list --caps), so the completion never lags behind the program: a
# model's own options too (help lists each model's table).

_iomodels()
{
	local cur prev bin=${COMP_WORDS[0]} words
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}

	if [ "$COMP_CWORD" -eq 1 ]; then
		words=$("$bin" help 2>/dev/null |
			sed -n 's/^\(usage: \|       \)iomodels \([a-z][a-z-]*\).*/\2/p' | sort -u)
		COMPREPLY=($(compgen -W "$words --version --help" -- "$cur"))
		return
	fi
	# A value of a set: the words the help shows after the option ("  --notify wait|poll  ...").
	if [ "${prev#--}" != "$prev" ]; then
		words=$("$bin" help 2>/dev/null |
			sed -n "s/^  $prev \([a-z0-9-]*|[a-z0-9|-]*\) .*/\1/p" | head -n 1)
		if [ -n "$words" ]; then
			COMPREPLY=($(compgen -W "${words//|/ }" -- "$cur"))
			return
		fi
	fi
	case $prev in
	--model|--server-model)
		words=$("$bin" list --caps 2>/dev/null | awk '{ print $1 }')
		COMPREPLY=($(compgen -W "$words all" -- "${cur##*,}"))
		return ;;
	--workload)
		COMPREPLY=($(compgen -W "nop timer file rpc" -- "${cur##*,}"))
		return ;;
	--output|--directory|--filename|--timeline|--unix|--port-file|--stats-file|--file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--format)
		COMPREPLY=($(compgen -W "md csv json" -- "${cur##*,}"))
		return ;;
	esac
	# compare's arguments are results directories.
	if [ "${COMP_WORDS[1]}" = compare ] && [ "${cur#-}" = "$cur" ]; then
		COMPREPLY=($(compgen -d -- "$cur"))
		return
	fi
	if [ "${COMP_WORDS[1]}" = scenario ] && [ "$COMP_CWORD" -eq 2 ]; then
		words=$("$bin" scenario list 2>/dev/null | awk '{ print $1 }')
		COMPREPLY=($(compgen -W "$words list --help" -- "$cur"))
		return
	fi
	if [ "${COMP_WORDS[1]}" = scenario ]; then
		words=$("$bin" scenario "${COMP_WORDS[2]}" --help 2>/dev/null |
			grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	else
		words=$("$bin" "${COMP_WORDS[1]}" --help 2>/dev/null |
			grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	fi
	COMPREPLY=($(compgen -W "$words --help" -- "$cur"))
}
complete -F _iomodels iomodels
