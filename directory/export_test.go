package directory

// Hooks for the external tests and benchmarks of this package.

// DropLookupCache empties s's API-key and principal-access cache, when it is
// on, so that a benchmark can measure the database path.
func DropLookupCache(s *SQLStore) {
	if c := s.cache.Load(); c != nil {
		s.cache.CompareAndSwap(c, &lookupCache{})
	}
}

// LookupCacheOn reports whether s serves lookups from its cache (on
// PostgreSQL only while its change listener is connected).
func LookupCacheOn(s *SQLStore) bool { return s.cache.Load() != nil }
