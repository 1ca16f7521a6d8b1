package mqtt_test

import (
	"fmt"

	"catd/mqtt"
)

// A command message is the serial console's line: the topic's last level
// is the command, the payload its arguments.
func ExampleParseMessage() {
	for _, m := range [][2]string{{"threshold", "0.7"}, {"save", ""}, {"threshold", "1.5"}, {"save", "PRESS"}} {
		cmd, err := mqtt.ParseMessage(m[0], []byte(m[1]))
		if err != nil {
			fmt.Println("refused:", err)
			continue
		}
		fmt.Println(cmd.Op, cmd.Threshold)
	}
	// Output:
	// threshold 0.7
	// save 0
	// refused: threshold "1.5": want a number between 0 and 1, exclusive
	// refused: save takes no arguments
}

// Discovery announces catd's entities to Home Assistant.
func ExampleDiscovery() {
	for _, d := range mqtt.Discovery(mqtt.Options{DiscoveryPrefix: "homeassistant", TopicPrefix: "catd/kitchen",
		ClientID: "catd-kitchen"}) {
		fmt.Println(d.Topic)
	}
	// Output:
	// homeassistant/binary_sensor/catd_kitchen/cat/config
	// homeassistant/sensor/catd_kitchen/p_cat/config
	// homeassistant/image/catd_kitchen/snapshot/config
	// homeassistant/switch/catd_kitchen/learning/config
	// homeassistant/number/catd_kitchen/threshold/config
	// homeassistant/button/catd_kitchen/label_cat/config
	// homeassistant/button/catd_kitchen/label_noncat/config
	// homeassistant/button/catd_kitchen/save/config
	// homeassistant/sensor/catd_kitchen/learning_state/config
	// homeassistant/sensor/catd_kitchen/rounds_accepted/config
	// homeassistant/sensor/catd_kitchen/model/config
	// homeassistant/sensor/catd_kitchen/fps/config
}
