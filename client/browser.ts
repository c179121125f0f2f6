// The browser bundle's entry (client/dist/carbon-client.js, built by
// `npm run client`): the client and the OAuth popup helper, for pages
// without a bundler of their own, such as examples/connect.html.

export { ApiError, createClient } from './index.ts';
export { connectWithPopup } from './oauth.ts';
