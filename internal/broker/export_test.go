package broker

// ForceReconnect drops the connection and makes it again, as a network
// blip does to one node.
func (b *NATS) ForceReconnect() error { return b.nc.ForceReconnect() }
