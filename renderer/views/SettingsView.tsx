import { useEffect, useState } from 'react';
import type { SettingsView as SettingsViewModel, Status } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import { Field, FieldError } from '../components/Field';
import { useAgentEvents } from '../state/useAgentEvents';
import { blankSettingsView, errorsForDisplay, formFromSettings, validatePairingForm, validateSettingsForm } from '../state/settings-form';
import type { FieldErrors, FolderRow, SettingsFormValues } from '../state/settings-form';

/**
 * The settings window. Validation is the contract's zod schema, run here for instant
 * messages and again by the agent, whose `invalid_settings` fields land in the same places.
 * Saved settings apply at once (the agent reconfigures itself; no restart).
 */
export function SettingsView({ status }: { status?: Status | undefined } = {}) {
  const { api, chooseFolder, desktop } = useApi();
  const [loaded, setLoaded] = useState<SettingsViewModel>();
  const [form, setForm] = useState<SettingsFormValues>();
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  // `at`: where the action was taken, so the answer shows there (Connect sits high in a long form).
  const [notice, setNotice] = useState<{ kind: 'ok' | 'warn' | 'error'; text: string; at?: 'pairing' }>();
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    let live = true;
    void api.call('getSettings', {}).then((result) => {
      if (!live) return;
      if (result.ok) {
        setLoaded(result.value);
        setForm(formFromSettings(result.value));
      } else if (result.error.code === 'not_configured') {
        // A first start: an empty form, to be filled in (or paired with a code).
        setLoaded(blankSettingsView());
        setForm(formFromSettings(blankSettingsView()));
      } else setNotice({ kind: 'error', text: `Could not load the settings: ${result.error.message}` });
    });
    return () => {
      live = false;
    };
  }, [api]);

  // Changed elsewhere (tray, CLI, another window): follow, unless the user is editing.
  useAgentEvents(api, (event) => {
    if (event.type !== 'settings') return;
    setLoaded(event.settings);
    if (!dirty) setForm(formFromSettings(event.settings));
  });

  if (!form || !loaded) {
    return <div className="view">{notice ? <div className="banner banner-error" role="alert">{notice.text}</div> : <p className="muted">Loading settings…</p>}</div>;
  }

  const shown = errorsForDisplay(errors, form.ignoreRules);
  const edit = (patch: Partial<SettingsFormValues>) => {
    setForm({ ...form, ...patch });
    setDirty(true);
    setNotice(undefined);
  };
  const editFolder = (index: number, patch: Partial<FolderRow>) =>
    edit({ folders: form.folders.map((folder, i) => (i === index ? { ...folder, ...patch } : folder)) });
  const addFolder = async () => {
    let localPath = '';
    if (chooseFolder) {
      try {
        const chosen = await chooseFolder();
        if (!chosen) return;
        localPath = chosen;
      } catch (error) {
        setNotice({ kind: 'error', text: `Could not open the folder dialog: ${error instanceof Error ? error.message : String(error)}` });
        return;
      }
    }
    const suggested = localPath.split(/[\\/]/).filter(Boolean).pop()?.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') ?? '';
    edit({ folders: [...form.folders, { localPath, remoteId: suggested }] });
  };

  const applied = (value: SettingsViewModel, done: string, at?: 'pairing') => {
    setErrors({});
    setLoaded(value);
    setForm(formFromSettings(value));
    setDirty(false);
    const warnings = value.warnings ?? [];
    setNotice({ ...(warnings.length ? { kind: 'warn', text: `${done} Note: ${warnings.join(' ')}` } : { kind: 'ok', text: done }), ...(at ? { at } : {}) });
  };
  const refused = (error: { message: string; fields?: Record<string, string> | undefined }, at?: 'pairing') => {
    setErrors(error.fields ?? {});
    setNotice({ kind: 'error', text: error.fields ? 'The agent refused some settings (see the fields marked above).' : error.message, ...(at ? { at } : {}) });
  };

  // "Connect with a pairing code": the agent trades the code for this device's own token and saves it with the form.
  const connect = async () => {
    const check = validatePairingForm(form);
    if (!check.ok) {
      setErrors(check.fields);
      setNotice({ kind: 'error', text: 'Some settings need fixing (see the fields marked above).', at: 'pairing' });
      return;
    }
    setSaving(true);
    const result = await api.call('pairDevice', check.input);
    setSaving(false);
    if (result.ok) applied(result.value, 'Connected: this device has its own token now, and the settings are saved and applied.', 'pairing');
    else refused(result.error, 'pairing');
  };

  const save = async () => {
    const check = validateSettingsForm(form, { hasToken: loaded.hasToken });
    if (!check.ok) {
      setErrors(check.fields);
      setNotice({ kind: 'error', text: 'Some settings need fixing (see the fields marked above).' });
      return;
    }
    setSaving(true);
    const result = await api.call('updateSettings', check.update);
    setSaving(false);
    if (result.ok) applied(result.value, 'Settings saved and applied.');
    else refused(result.error);
  };

  return (
    <form
      className="view settings-view"
      aria-label="Settings"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        void save();
      }}
    >
      <h2>Settings</h2>
      <FieldError name="_" error={shown._} />

      <fieldset>
        <legend>Server</legend>
        <Field name="serverUrl" label="Server URL" error={shown.serverUrl}>
          {(props) => <input {...props} type="url" value={form.serverUrl} onChange={(e) => edit({ serverUrl: e.target.value })} placeholder="e.g. https://sync.example.com" />}
        </Field>
        <Field
          name="token"
          label="Server token"
          error={shown.token}
          hint={
            loaded.hasToken
              ? `${status?.pairedAs ? `${status.state === 'auth_failed' ? 'Refused by the server: was paired' : 'Paired'} as ${status.pairedAs.user} (credential ${status.pairedAs.credential}): this device's own token` : 'A token'} is stored (${loaded.tokenProtection === 'os' ? 'in the system keychain' : 'in plain text'}); leave empty to keep it.`
              : undefined
          }
        >
          {(props) => <input {...props} type="password" autoComplete="off" value={form.token} onChange={(e) => edit({ token: e.target.value })} />}
        </Field>
        <div className="pairing" data-testid="pairing">
          <Field name="pairingCode" label="Connect with a pairing code" error={shown.pairingCode} hint="Or, instead of a token: a one-time code from `ferry server pair --user NAME` (valid 10 minutes).">
            {(props) => (
              <input {...props} autoComplete="off" spellCheck={false} value={form.pairingCode} onChange={(e) => edit({ pairingCode: e.target.value })} placeholder="e.g. 7QKM-2D9X-PV4H-0BWE" />
            )}
          </Field>
          <button type="button" disabled={saving || !form.pairingCode.trim()} onClick={() => void connect()} data-testid="pair-connect">
            Connect
          </button>
        </div>
        {notice?.at === 'pairing' ? <Notice notice={notice} /> : null}
        <Field name="caFile" label="Private CA file (optional)" error={shown.caFile} hint="For a server whose https certificate comes from your own CA: the CA's PEM file on the agent's machine.">
          {(props) => <input {...props} value={form.caFile} onChange={(e) => edit({ caFile: e.target.value })} placeholder="e.g. /etc/ferry/ca.pem" />}
        </Field>
        <label className="check">
          <input type="checkbox" checked={form.allowInsecureHttp} onChange={(e) => edit({ allowInsecureHttp: e.target.checked })} data-testid="field-allowInsecureHttp" /> Allow plain http:// to
          another computer (the token crosses the network unencrypted: only on a network you trust)
        </label>
      </fieldset>

      <fieldset>
        <legend>Folders</legend>
        {form.folders.length === 0 ? <p className="muted">No folders yet.</p> : null}
        <ul className="folder-list" aria-label="Synced folders">
          {form.folders.map((folder, index) => (
            <li key={index} className="folder-row" data-testid="folder-row">
              <Field
                name={`folders.${index}.localPath`}
                label="Local folder"
                error={shown[`folders.${index}.localPath`]}
                hint={chooseFolder ? undefined : "The folder's full path on the agent's machine; ~ is your home folder."}
              >
                {(props) => (
                  <input {...props} value={folder.localPath} readOnly={Boolean(chooseFolder)} onChange={(e) => editFolder(index, { localPath: e.target.value })} placeholder="e.g. ~/Documents" />
                )}
              </Field>
              <Field name={`folders.${index}.remoteId`} label="Remote folder id" error={shown[`folders.${index}.remoteId`]}>
                {(props) => <input {...props} value={folder.remoteId} onChange={(e) => editFolder(index, { remoteId: e.target.value })} placeholder="e.g. documents" />}
              </Field>
              <button type="button" className="link danger" onClick={() => edit({ folders: form.folders.filter((_, i) => i !== index) })} aria-label={`Remove folder ${folder.localPath || index + 1}`} data-testid="remove-folder">
                Remove
              </button>
            </li>
          ))}
        </ul>
        <FieldError name="folders" error={shown.folders} />
        <button type="button" onClick={() => void addFolder()} data-testid="add-folder">
          {chooseFolder ? 'Add folder…' : 'Add folder'}
        </button>
      </fieldset>

      <fieldset>
        <legend>Transfers</legend>
        <div className="field-grid">
          <Field name="concurrency" label="Parallel transfers" error={shown.concurrency} hint="1–32">
            {(props) => <input {...props} inputMode="numeric" value={form.concurrency} onChange={(e) => edit({ concurrency: e.target.value })} />}
          </Field>
          <Field name="retryLimit" label="Retries before an item fails" error={shown.retryLimit} hint="0–10">
            {(props) => <input {...props} inputMode="numeric" value={form.retryLimit} onChange={(e) => edit({ retryLimit: e.target.value })} />}
          </Field>
          <Field name="bandwidthLimit" label="Upload limit (KB/s)" error={shown.bandwidthLimit} hint="1 KB = 1000 bytes; 0 means no limit (command line: --bandwidth-limit 500K)">
            {(props) => <input {...props} inputMode="numeric" value={form.bandwidthLimitKBps} onChange={(e) => edit({ bandwidthLimitKBps: e.target.value })} />}
          </Field>
        </div>
      </fieldset>

      <fieldset>
        <legend>Safety</legend>
        <div className="field-grid">
          <Field name="massDeletePercent" label="Ask before deleting more than (% of a folder)" error={shown.massDeletePercent}>
            {(props) => <input {...props} inputMode="numeric" value={form.massDeletePercent} onChange={(e) => edit({ massDeletePercent: e.target.value })} />}
          </Field>
          <Field name="massDeleteCount" label="…or more than (files)" error={shown.massDeleteCount}>
            {(props) => <input {...props} inputMode="numeric" value={form.massDeleteCount} onChange={(e) => edit({ massDeleteCount: e.target.value })} />}
          </Field>
        </div>
        <Field name="ignoreRules" label="Ignore rules" error={shown.ignoreRules} hint="One pattern per line, gitignore syntax, applied to every folder; each line is a rule (a # starts none here: write \# for a name that starts with #).">
          {(props) => <textarea {...props} rows={5} spellCheck={false} value={form.ignoreRules} onChange={(e) => edit({ ignoreRules: e.target.value })} />}
        </Field>
      </fieldset>

      <fieldset>
        <legend>Desktop</legend>
        {desktop ? (
          <label className="check">
            <input type="checkbox" checked={form.startAtLogin} onChange={(e) => edit({ startAtLogin: e.target.checked })} data-testid="field-startAtLogin" /> Start Ferry at login
          </label>
        ) : (
          <p className="hint" data-testid="start-at-login-headless">
            Start at login and notifications belong to the desktop app: the headless agent starts however you run it (a service, a login
            script).
          </p>
        )}
        {desktop ? (
          <label className="check">
            <input type="checkbox" checked={form.notifications} onChange={(e) => edit({ notifications: e.target.checked })} data-testid="field-notifications" /> Show
            notifications
          </label>
        ) : null}
      </fieldset>

      {/* Beside Save, where the eyes are after a click (the form scrolls). */}
      {notice && notice.at !== 'pairing' ? <Notice notice={notice} /> : null}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={saving} data-testid="settings-save">
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button
          type="button"
          disabled={!dirty || saving}
          onClick={() => {
            setForm(formFromSettings(loaded));
            setErrors({});
            setDirty(false);
            setNotice(undefined);
          }}
        >
          Revert
        </button>
      </div>
    </form>
  );
}

/** The answer to Save or Connect, shown beside the button that was clicked. */
function Notice({ notice }: { notice: { kind: 'ok' | 'warn' | 'error'; text: string } }) {
  return (
    <div className={`banner banner-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-testid="settings-notice">
      {notice.text}
    </div>
  );
}
