// The provider's pages for people: sign in, sign out, errors. Plain HTML with the styles
// inline (no script, no external assets), readable at 320 px, in the NHS.UK pattern.

import { createHash } from 'node:crypto';

const STYLE = `
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font-family:Arial,Helvetica,sans-serif;font-size:1.1875rem;line-height:1.5;color:#212b32;background:#f0f4f5}
a{color:#005eb8}
a:focus,input:focus,button:focus{outline:4px solid transparent;box-shadow:0 0 0 4px #ffeb3b,0 0 0 8px #212b32}
.skip{position:absolute;left:-9999px}.skip:focus{left:1rem;top:1rem;background:#ffeb3b;padding:.5rem}
header{background:#005eb8;color:#fff;padding:1rem}
header p{margin:0 auto;max-width:40rem;font-weight:700}
main{display:block;margin:0 auto;max-width:40rem;padding:1.5rem 1rem 3rem}
h1{font-size:2rem;line-height:1.25;margin:0 0 1.5rem}
.error-summary{border:4px solid #d5281b;background:#fff;padding:1rem;margin-bottom:2rem}
.error-summary h2{font-size:1.5rem;margin:0 0 .75rem}
.error-summary ul{margin:0;padding-left:1.25rem}
.error-summary a{color:#d5281b;font-weight:700}
.field{margin-bottom:1.5rem}
label{display:block;font-weight:700;margin-bottom:.25rem}
input[type=text],input[type=password]{display:block;width:100%;max-width:24rem;font:inherit;padding:.25rem .5rem;min-height:2.5rem;border:2px solid #4c6272;border-radius:0;background:#fff}
.field-error{border-left:4px solid #d5281b;padding-left:1rem}
.field-error input{border-color:#d5281b}
button{font:inherit;font-weight:700;color:#fff;background:#007f3b;border:0;border-radius:4px;box-shadow:0 4px 0 #00401e;padding:.75rem 1rem;margin:0 .5rem 1rem 0;cursor:pointer;min-height:2.75rem}
button.secondary{background:#fff;color:#005eb8;box-shadow:0 4px 0 #005eb8;border:2px solid #005eb8}
.hint{color:#4c6272}
`;

// allowed by the pages' Content-Security-Policy and nothing else
export const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

export const SECURITY_HEADERS = {
  'content-security-policy': `default-src 'none'; style-src '${STYLE_HASH}'; frame-ancestors 'none'; base-uri 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function escape(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

export function page({ title, organisation, body }) {
  return `<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} - ${escape(organisation)} - Peerlink</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header><p>Peerlink: ${escape(organisation)}</p></header>
<main id="main">
${body}
</main>
</body>
</html>
`;
}

export function loginPage({ organisation, action, username = '', failed = false }) {
  const summary = failed
    ? `<div class="error-summary" role="alert" aria-labelledby="error-summary-title">
<h2 id="error-summary-title">There is a problem</h2>
<ul><li><a href="#username">The username or password is not right. Check them and try again.</a></li></ul>
</div>
`
    : '';
  const fieldClass = failed ? 'field field-error' : 'field';
  const invalid = failed ? ' aria-invalid="true"' : '';
  return page({
    title: failed ? 'Error: Sign in' : 'Sign in',
    organisation,
    body: `${summary}<h1>Sign in</h1>
<form method="post" action="${escape(action)}" novalidate>
<div class="${fieldClass}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${escape(username)}" autocomplete="username" autocapitalize="none" spellcheck="false" required${invalid}>
</div>
<div class="${fieldClass}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${invalid}>
</div>
<button type="submit">Sign in</button>
</form>
<p class="hint">Forgotten your password? Ask your organisation's Peerlink administrator.</p>`,
  });
}

export function messagePage({ organisation, title, message }) {
  return page({
    title,
    organisation,
    body: `<h1>${escape(title)}</h1>\n<p>${escape(message)}</p>`,
  });
}

// `form` is oidc-provider's own (hidden) form with its anti-forgery field
export function logoutPage({ organisation, form }) {
  return page({
    title: 'Sign out',
    organisation,
    body: `<h1>Do you want to sign out of Peerlink?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
  });
}
