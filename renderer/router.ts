/** The windows the one renderer bundle can show, picked by the location hash. */
export type Route = 'folders' | 'queue' | 'settings' | 'activity' | 'deleted';
export const ROUTES: readonly Route[] = ['folders', 'queue', 'activity', 'deleted', 'settings'];

export function routeFromHash(hash: string): Route {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (ROUTES as readonly string[]).includes(name ?? '') ? (name as Route) : 'folders';
}

export function hashFor(route: Route): string {
  return `#/${route}`;
}
