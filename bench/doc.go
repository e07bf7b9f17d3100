// Package bench compares sdlife with other libraries. It is a separate
// module so that the libraries it compares against never become
// dependencies of sdlife itself. See ../BENCHMARKS.md.
package bench
