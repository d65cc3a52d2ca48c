import type { CallResult, FerryApi } from '../../shared/ui-contract';

/**
 * The Electron preload bridge (`window.ferry`): FerryApi plus desktop extras. Declared here
 * structurally because the renderer must not import the preload module (it imports electron).
 */
export interface DesktopBridge extends FerryApi {
  /** The system folder dialog; value.path is null when cancelled. */
  chooseFolder?(): Promise<CallResult<{ path: string | null }>>;
}

export function findBridge(scope: { ferry?: unknown }): DesktopBridge | undefined {
  const candidate = scope.ferry as Partial<DesktopBridge> | undefined;
  return candidate && typeof candidate.call === 'function' && typeof candidate.subscribe === 'function'
    ? (candidate as DesktopBridge)
    : undefined;
}

/** What the settings window needs to offer a folder picker; undefined in the browser. */
export type ChooseFolder = () => Promise<string | null>;

export function folderChooser(bridge: DesktopBridge | undefined): ChooseFolder | undefined {
  const choose = bridge?.chooseFolder?.bind(bridge);
  if (!choose) return undefined;
  return async () => {
    const result = await choose();
    if (!result.ok) throw new Error(result.error.message);
    return result.value.path;
  };
}
