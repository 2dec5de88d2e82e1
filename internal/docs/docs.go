// Package docs holds no code: its test keeps the documentation true to
// the repository — every relative link leads somewhere, every make target
// named exists, and every key of the example configuration is documented.
package docs
