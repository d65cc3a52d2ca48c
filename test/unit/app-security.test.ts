import { describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  decideNavigation,
  decidePermission,
  decideWindowOpen,
  hardenSession,
  isSafeExternalUrl,
  secureWebPreferences,
} from '../../main/app/security';
import { fakeLogger } from '../fakes/app-fakes';

const PAGE = 'ferry://app/index.html#/queue';

describe('web preferences', () => {
  it('isolate, sandbox and keep Node out of the page', () => {
    const prefs = secureWebPreferences('/app/dist/preload/bridge.cjs');
    expect(prefs).toMatchObject({
      preload: '/app/dist/preload/bridge.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('CSP allows only our own scripts, no inline code or remote origins', () => {
    const directives = Object.fromEntries(CONTENT_SECURITY_POLICY.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    expect(directives['default-src']).toBe("'none'");
    expect(directives['script-src']).toBe("'self'");
    expect(directives['object-src']).toBe("'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });
});

describe('navigation and new windows', () => {
  it.each(['https://example.com/', 'file:///etc/passwd', 'ferry://app/other.html', 'ferry://evil/index.html', 'javascript:alert(1)'])(
    'denies navigating to %s',
    (target) => {
      expect(decideNavigation(PAGE, target).allow).toBe(false);
    },
  );

  it('hands http(s) links to the browser instead', () => {
    expect(decideNavigation(PAGE, 'https://example.com/help')).toEqual({ allow: false, openExternally: true });
    expect(decideNavigation(PAGE, 'file:///etc/passwd')).toEqual({ allow: false, openExternally: false });
  });

  it('allows a route change within the same page only', () => {
    expect(decideNavigation(PAGE, 'ferry://app/index.html#/settings').allow).toBe(true);
  });

  it('never opens a window; http(s) goes to the browser', () => {
    expect(decideWindowOpen('https://example.com/')).toEqual({ action: 'deny', openExternally: true });
    expect(decideWindowOpen('ferry://app/index.html')).toEqual({ action: 'deny', openExternally: false });
    expect(decideWindowOpen('smb://server/share')).toEqual({ action: 'deny', openExternally: false });
  });
});

describe('openExternal guard', () => {
  it.each([
    ['https://example.com/a?b=c', true],
    ['http://localhost:8080/', true],
    ['file:///Applications/Calculator.app', false],
    ['smb://attacker/share', false],
    ['javascript:alert(1)', false],
    ['ms-msdt:/id PCWDiagnostic', false],
    ['not a url', false],
    ['https://', false],
    ['HTTPS://EXAMPLE.COM/', true],
  ])('%s → %s', (url, safe) => {
    expect(isSafeExternalUrl(url)).toBe(safe);
  });
});

describe('permissions', () => {
  it.each(['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal'])('denies %s', (permission) => {
    expect(decidePermission(permission)).toBe(false);
  });

  it('wires both the request and the check handler to deny', () => {
    let request: ((c: unknown, p: string, cb: (granted: boolean) => void) => void) | null = null;
    let check: ((c: unknown, p: string) => boolean) | null = null;
    hardenSession(
      {
        setPermissionRequestHandler: (h: never) => void (request = h),
        setPermissionCheckHandler: (h: never) => void (check = h),
      },
      fakeLogger(),
    );
    const answers: boolean[] = [];
    request!(null, 'media', (granted) => answers.push(granted));
    expect(answers).toEqual([false]);
    expect(check!(null, 'geolocation')).toBe(false);
  });
});
