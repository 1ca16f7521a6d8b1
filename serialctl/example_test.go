package serialctl_test

import (
	"fmt"

	"catd/serialctl"
)

func ExampleParseCommand() {
	for _, line := range []string{"threshold 0.7", "label noncat f-0012.jpg", "label cat ../../etc/passwd", "reboot"} {
		cmd, err := serialctl.ParseCommand(line)
		if err != nil {
			fmt.Println("ERR", err)
			continue
		}
		fmt.Printf("%s %+v\n", cmd.Op, cmd)
	}
	// Output:
	// threshold {Op:threshold Class: Frame: Threshold:0.7 On:false}
	// label {Op:label Class:noncat Frame:f-0012.jpg Threshold:0 On:false}
	// ERR label: frame name "../../etc/passwd": want 1 to 64 of A-Z a-z 0-9 . _ -, no paths
	// ERR unknown command "reboot" (try help)
}
