package store

// LogStore is request logs captured per deployment (bodies, with retention).
type LogStore interface {
}
