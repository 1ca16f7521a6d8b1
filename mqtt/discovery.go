package mqtt

import (
	"encoding/json"
	"strings"
)

// Config is one Home Assistant discovery message: its topic and payload,
// published retained.
type Config struct {
	Topic   string
	Payload []byte
}

// entity is one Home Assistant entity catd announces.
type entity struct {
	component string // binary_sensor, sensor, image, switch, number, button
	object    string // the object id, unique within the device
	fields    map[string]any
}

// entities are catd's Home Assistant entities; topics are under prefix.
func entities(prefix string) []entity {
	t := func(last string) string { return prefix + "/" + last }
	set := func(cmd string) string { return t(topicSet + "/" + cmd) }
	return []entity{
		{"binary_sensor", "cat", map[string]any{"name": "Cat", "state_topic": t("cat"), "payload_on": "ON",
			"payload_off": "OFF", "device_class": "occupancy", "icon": "mdi:cat"}},
		{"sensor", "p_cat", map[string]any{"name": "p(cat)", "state_topic": t("p_cat"), "state_class": "measurement",
			"suggested_display_precision": 2, "icon": "mdi:percent"}},
		{"image", "snapshot", map[string]any{"name": "Last snapshot", "image_topic": t("snapshot"),
			"content_type": "image/jpeg"}},
		{"switch", "learning", map[string]any{"name": "Learning", "command_topic": set("learn"),
			"state_topic": t("learning"), "value_template": "{{ 'on' if value_json.enabled else 'off' }}",
			"payload_on": "on", "payload_off": "off", "state_on": "on", "state_off": "off", "icon": "mdi:school"}},
		{"number", "threshold", map[string]any{"name": "Threshold", "command_topic": set("threshold"),
			"state_topic": t("threshold"), "min": 0.01, "max": 0.99, "step": 0.01, "mode": "box",
			"entity_category": "config"}},
		{"button", "label_cat", map[string]any{"name": "Label latest frame: cat", "command_topic": set("label"),
			"payload_press": "cat", "icon": "mdi:cat"}},
		{"button", "label_noncat", map[string]any{"name": "Label latest frame: no cat", "command_topic": set("label"),
			"payload_press": "noncat", "icon": "mdi:cancel"}},
		{"button", "save", map[string]any{"name": "Save checkpoint", "command_topic": set("save"),
			"payload_press": "", "entity_category": "config", "icon": "mdi:content-save"}},
		{"sensor", "learning_state", map[string]any{"name": "Learning state", "state_topic": t("learning"),
			"value_template": "{{ value_json.state }}", "entity_category": "diagnostic"}},
		{"sensor", "rounds_accepted", map[string]any{"name": "Learning rounds accepted", "state_topic": t("learning"),
			"value_template": "{{ value_json.rounds_accepted }}", "state_class": "total_increasing",
			"entity_category": "diagnostic"}},
		{"sensor", "model", map[string]any{"name": "Model", "state_topic": t("learning"),
			"value_template": "{{ value_json.model[:250] }}", "entity_category": "diagnostic", "icon": "mdi:brain"}},
		{"sensor", "fps", map[string]any{"name": "Frames per second", "state_topic": t("stats"),
			"value_template": "{{ value_json.fps }}", "state_class": "measurement", "unit_of_measurement": "fps",
			"entity_category": "diagnostic"}},
	}
}

// Discovery returns the Home Assistant discovery messages for opt (its
// DiscoveryPrefix, TopicPrefix, ClientID and Device, defaults filled in
// as New fills them): one per entity, at
// DISCOVERY/COMPONENT/NODE/OBJECT/config, NODE being the client id in
// lower case with anything but a-z 0-9 _ made _. Each payload has
// unique_id (NODE_OBJECT), the device (identifiers, name,
// model, sw_version, manufacturer), origin, and the availability topic.
func Discovery(opt Options) []Config {
	host := DefaultHost()
	if opt.ClientID == "" {
		opt.ClientID = "catd-" + host
	}
	if opt.TopicPrefix == "" {
		opt.TopicPrefix = "catd/" + host
	}
	if opt.Device.Name == "" {
		opt.Device.Name = "catd " + host
	}
	node := nodeID(opt.ClientID)
	device := map[string]any{"identifiers": []string{node}, "name": opt.Device.Name, "model": opt.Device.Model,
		"sw_version": opt.Device.SWVersion, "manufacturer": "catd"}
	origin := map[string]any{"name": "catd", "sw_version": opt.Device.SWVersion}
	avail := []map[string]string{{"topic": opt.TopicPrefix + "/" + topicAvailability,
		"payload_available": "online", "payload_not_available": "offline"}}
	var out []Config
	for _, e := range entities(opt.TopicPrefix) {
		f := make(map[string]any, len(e.fields)+5)
		for k, v := range e.fields {
			f[k] = v
		}
		f["unique_id"] = node + "_" + e.object
		f["device"] = device
		f["origin"] = origin
		f["availability"] = avail
		f["qos"] = 1
		b, err := json.Marshal(f)
		if err != nil {
			panic("mqtt: discovery payload: " + err.Error()) // only plain values above
		}
		out = append(out, Config{Topic: opt.DiscoveryPrefix + "/" + e.component + "/" + node + "/" + e.object + "/config",
			Payload: b})
	}
	return out
}

// nodeID is a client id as Home Assistant's node and unique ids hold it.
func nodeID(clientID string) string {
	b := []byte(strings.ToLower(clientID))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
