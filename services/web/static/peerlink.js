// Progressive enhancement only: every page works without this script.
import { initAll } from '/static/nhsuk-frontend.js'

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported')
initAll()

// A warning before an idle sign-out, with a way to stay signed in (a new page resets the clock).
const warning = document.getElementById('timeout-warning')
if (warning) {
  const idle = Number(warning.dataset.idleSeconds) * 1000
  const warn = Number(warning.dataset.warnSeconds) * 1000
  let shown = null
  const start = () => {
    clearTimeout(shown)
    shown = setTimeout(() => {
      warning.hidden = false
      document.getElementById('timeout-stay').focus()
    }, Math.max(idle - warn, 1000))
  }
  document.getElementById('timeout-stay').addEventListener('click', async () => {
    const answer = await fetch('/session/keep-alive', { method: 'GET', credentials: 'same-origin' })
    if (answer.ok) {
      warning.hidden = true
      start()
    } else {
      window.location.assign('/auth/login?next=' + encodeURIComponent(window.location.pathname))
    }
  })
  start()
}
