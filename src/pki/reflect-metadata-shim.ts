// @peculiar/x509 uses tsyringe, which refuses to load unless a Reflect metadata
// polyfill (normally the reflect-metadata package) is present. tsyringe only needs
// getMetadata / getOwnMetadata / defineMetadata for the few classes x509 registers,
// so this small WeakMap-backed version avoids a new dependency. It installs nothing
// when a real polyfill is already loaded.

type PropertyKey = string | symbol | undefined;
type MetadataMap = Map<unknown, unknown>;

interface ReflectMetadataApi {
  getMetadata(key: unknown, target: object, property?: PropertyKey): unknown;
  getOwnMetadata(key: unknown, target: object, property?: PropertyKey): unknown;
  hasMetadata(key: unknown, target: object, property?: PropertyKey): boolean;
  hasOwnMetadata(key: unknown, target: object, property?: PropertyKey): boolean;
  defineMetadata(key: unknown, value: unknown, target: object, property?: PropertyKey): void;
  metadata(key: unknown, value: unknown): (target: object, property?: PropertyKey) => void;
}

const store = new WeakMap<object, Map<PropertyKey, MetadataMap>>();

function ownMap(target: object, property: PropertyKey, create: boolean): MetadataMap | undefined {
  let byProperty = store.get(target);
  if (byProperty === undefined) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let map = byProperty.get(property);
  if (map === undefined && create) {
    map = new Map();
    byProperty.set(property, map);
  }
  return map;
}

/** Walks the prototype chain, as reflect-metadata's getMetadata does. */
function findMap(key: unknown, target: object, property: PropertyKey): MetadataMap | undefined {
  for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
    const map = ownMap(t, property, false);
    if (map?.has(key) === true) return map;
  }
  return undefined;
}

const shim: ReflectMetadataApi = {
  getMetadata: (key, target, property) => findMap(key, target, property)?.get(key),
  getOwnMetadata: (key, target, property) => ownMap(target, property, false)?.get(key),
  hasMetadata: (key, target, property) => findMap(key, target, property) !== undefined,
  hasOwnMetadata: (key, target, property) => ownMap(target, property, false)?.has(key) === true,
  defineMetadata: (key, value, target, property) => {
    ownMap(target, property, true)?.set(key, value);
  },
  metadata: (key, value) => (target, property) => {
    ownMap(target, property, true)?.set(key, value);
  },
};

/** Installs the shim on the global Reflect unless a metadata polyfill is there already. */
export function installReflectMetadata(): void {
  const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;
  if (typeof reflect.getMetadata === 'function') return;
  Object.assign(reflect, shim);
}
