package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// The completion command lists the others, so it joins the list once it
// is made (in the list's initializer it would refer to itself).
func init() {
	commands = append(commands, command{"completion", "print a bash or zsh completion script", setupCompletion})
}

func setupCompletion(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	return func(_ context.Context, e *env, args []string) error {
		if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
			return fmt.Errorf("completion needs one argument, bash or zsh: %w", errUsage)
		}
		if args[0] == "zsh" {
			// zsh runs bash completion functions through bashcompinit.
			if _, err := io.WriteString(e.stdout, "autoload -U +X bashcompinit && bashcompinit\n"); err != nil {
				return err
			}
		}
		return writeBashCompletion(e.stdout)
	}
}

// writeBashCompletion writes a bash completion function for catd: the
// commands after "catd" and "catd help", each command's flags after a
// "-", file names otherwise. Install it with
//
//	catd completion bash | sudo tee /etc/bash_completion.d/catd
//
// or, in zsh, source <(catd completion zsh) from ~/.zshrc.
func writeBashCompletion(w io.Writer) error {
	var b strings.Builder
	names := make([]string, 0, len(commands)+1)
	for _, c := range commands {
		names = append(names, c.name)
	}
	b.WriteString("# catd completion for bash (catd completion bash)\n_catd() {\n")
	b.WriteString("\tlocal cur=${COMP_WORDS[COMP_CWORD]} flags=\n")
	fmt.Fprintf(&b, "\tif [ \"$COMP_CWORD\" -eq 1 ] || { [ \"$COMP_CWORD\" -eq 2 ] && [ \"${COMP_WORDS[1]}\" = help ]; }; then\n"+
		"\t\tCOMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n\t\treturn\n\tfi\n", strings.Join(append(names, "help"), " "))
	b.WriteString("\tcase ${COMP_WORDS[1]} in\n")
	for _, c := range commands {
		fs, _, _, _ := newFlags(c)
		var flags []string
		fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, "--"+f.Name) })
		flags = append(flags, "--help")
		fmt.Fprintf(&b, "\t%s) flags='%s' ;;\n", c.name, strings.Join(flags, " "))
	}
	b.WriteString("\tesac\n")
	b.WriteString("\tif [[ $cur == -* ]]; then\n\t\tCOMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n" +
		"\telse\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n}\ncomplete -o filenames -F _catd catd\n")
	_, err := io.WriteString(w, b.String())
	return err
}
