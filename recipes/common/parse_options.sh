# Sourced by recipes: every variable defined before sourcing can be overridden as a flag.
#   --stage 4 --stop_stage 6 --data_root /data/lavdf --audio_encoder microsoft/wavlm-base-plus
# Dashes and underscores are the same (--stop-stage). `--help` lists the variables.
__avf_vars=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "Usage: $0 [--name value]..."; echo "Options (current values):"
      for __v in $(compgen -v); do
        case " ${recipe_options[*]} " in *" $__v "*) printf '  --%-22s %s\n' "$__v" "${!__v}";; esac
      done
      exit 0;;
    --*=*) __name="${1%%=*}"; __value="${1#*=}"; shift;;
    --*) __name="$1"; [ $# -ge 2 ] || { echo "$0: error: option $1 needs a value" >&2; exit 2; }
         __value="$2"; shift 2;;
    *) echo "$0: error: unexpected argument '$1' (options look like --name value)" >&2; exit 2;;
  esac
  __name="${__name#--}"; __name="${__name//-/_}"
  case " ${recipe_options[*]} " in
    *" $__name "*) printf -v "$__name" '%s' "$__value";;
    *) echo "$0: error: unknown option --$__name (see --help)" >&2; exit 2;;
  esac
done
unset __name __value __v __avf_vars
