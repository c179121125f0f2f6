// Connecting an OAuth provider from the browser: a popup, the callback
// page's postMessage, and the call that finishes the connection.
//
//   button.onclick = async () => {
//     const result = await connectWithPopup(api, { integrationId: 'xero' });
//     if (result.status === 'connected') show(result.datasource);
//   };
//
// Call it straight from a click handler: browsers block a popup opened after
// an await, so the popup is opened first and pointed at the provider once the
// authorization URL is known.

import type { Client, Schemas } from './index.ts';

export type CallbackResult = Schemas['CallbackResult'];
export type CompleteResult = Schemas['CompleteResult'];

export interface PopupOptions {
  /** One of the integrations connected with OAuth (the document lists them). */
  integrationId: Schemas['AuthorizeRequest']['integration_id'];
  displayName?: string;
  /** Re-authorise this datasource instead of creating one. */
  datasourceId?: string;
  /** Gives up (and closes the popup) after this long; default 10 minutes. */
  timeoutMs?: number;
  /** The window that opens the popup and receives the message (default: window). */
  window?: Window;
}

/** How long a message may still arrive after the popup reads closed. */
const CLOSE_GRACE_MS = 1_500;

export async function connectWithPopup(api: Client, options: PopupOptions): Promise<CompleteResult> {
  const w = options.window ?? window;
  const popup = w.open('about:blank', 'carbon-oauth', 'popup,width=520,height=720');
  if (!popup) throw new Error('the browser blocked the popup: call connectWithPopup from a click handler');
  let auth: Schemas['Authorization'];
  try {
    auth = await api.post('/api/v1/datasources/oauth/authorize', {
      body: { integration_id: options.integrationId, display_name: options.displayName, datasource_id: options.datasourceId },
    });
  } catch (err) {
    popup.close();
    throw err;
  }
  popup.location.href = auth.authorization_url;

  const message = await new Promise<CallbackResult>((resolve, reject) => {
    let closing: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      w.removeEventListener('message', onMessage);
      clearInterval(watch);
      clearTimeout(timer);
      clearTimeout(closing);
    };
    function onMessage(event: MessageEvent) {
      // Only the API's own callback page, in the popup we opened, for the
      // authorization we started: anything else is ignored.
      if (event.origin !== api.origin || event.source !== popup) return;
      const data = event.data as CallbackResult | null;
      if (!data || data.source !== 'carbon-oauth' || data.state !== auth.state) return;
      done();
      resolve(data);
    }
    w.addEventListener('message', onMessage);
    const watch = setInterval(() => {
      if (!popup.closed || closing !== undefined) return;
      // The callback page posts, then closes itself. The message and the
      // closing reach this window separately (across processes), so
      // `closed` can read true before the message is delivered: it gets a
      // grace period before the popup counts as closed unanswered.
      closing = setTimeout(() => {
        done();
        reject(new Error('the popup was closed before the provider answered'));
      }, CLOSE_GRACE_MS);
    }, 250);
    const timer = setTimeout(() => {
      done();
      popup.close();
      reject(new Error('timed out waiting for the provider'));
    }, options.timeoutMs ?? 600_000);
  });

  if (message.status === 'error') throw new Error(`the provider refused: ${message.error ?? 'unknown error'}`);
  // The session token is taken afresh for this call (Clerk's live 60 s).
  return api.post('/api/v1/datasources/oauth/complete', {
    // `cancelled`: the user declined, the one provider error the page relays.
    body: message.status === 'authorized' ? { state: auth.state, code: message.code } : { state: auth.state, error: 'access_denied' },
  });
}
