import { createContext, useContext } from 'react';
import type { FerryApi } from '../../shared/ui-contract';
import type { ChooseFolder } from './bridge';

/** The transport the views talk through, and the desktop-only folder picker if there is one. */
export interface ApiContextValue {
  api: FerryApi;
  chooseFolder?: ChooseFolder;
  /** Hosted by the desktop app (the preload bridge), not the headless agent in a browser. */
  desktop?: boolean;
  /**
   * How often the event stream has connected: a list loaded before the stream was up reloads
   * at each connect, so no event between its load and the subscription is missed.
   */
  connects?: number;
}

export const ApiContext = createContext<ApiContextValue | undefined>(undefined);

export function useApi(): ApiContextValue {
  const value = useContext(ApiContext);
  if (!value) throw new Error('useApi outside <ApiContext.Provider>');
  return value;
}
