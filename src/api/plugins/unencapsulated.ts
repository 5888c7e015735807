// Fastify encapsulates every registered plugin: what it adds (hooks, handlers, other plugins)
// reaches only its own routes. Marked with skip-override, a plugin adds to the scope of the
// instance that registers it instead. This is the part of `fastify-plugin` we need; that
// package is only a dependency of our dependencies, so we do not import it.

/** The plugin, marked to add its hooks and plugins to the registering instance's scope. */
export function unencapsulated<Plugin extends (...args: never[]) => unknown>(plugin: Plugin): Plugin {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}
