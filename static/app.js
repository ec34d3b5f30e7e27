// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(source.innerText.trim());
      button.textContent = "Copied";
    });
  }
});

// Security keys (the security settings): the name goes to the server, whose options for
// navigator.credentials.create carry their binary fields in base64url (webauthn-rs's
// `{publicKey: …}`); the browser needs ArrayBuffers, and the key's answer goes back in base64url.
const base64url = {
  decode(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  },
  encode(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

function creationOptions({ publicKey }) {
  return {
    publicKey: {
      ...publicKey,
      challenge: base64url.decode(publicKey.challenge),
      user: { ...publicKey.user, id: base64url.decode(publicKey.user.id) },
      excludeCredentials: (publicKey.excludeCredentials ?? []).map((c) => ({ ...c, id: base64url.decode(c.id) })),
    },
  };
}

function registrationAnswer(credential) {
  const { response } = credential;
  return {
    id: credential.id,
    rawId: base64url.encode(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: base64url.encode(response.attestationObject),
      clientDataJSON: base64url.encode(response.clientDataJSON),
      transports: typeof response.getTransports === "function" ? response.getTransports() : [],
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
  };
}

/** Why the browser gave no key, in the words of its DOMException. */
function ceremonyRefusal(error) {
  switch (error?.name) {
    case "NotAllowedError":
      return "No key was added: it was cancelled, it timed out, or no key answered. Try again.";
    case "InvalidStateError":
      return "No key was added: this key is registered to your account already.";
    case "SecurityError":
      return "No key was added: this browser does not allow security keys at this address.";
    default:
      return `No key was added: the browser refused (${error?.name ?? "unknown error"}). Try again.`;
  }
}

/** Posts `fields` as a form body, as the page's own forms send theirs (the CSRF token among
 * them); answers the JSON, or a refusal when the server answered something else. */
/** Shows the recovery codes a first key came with, in place of the form that added it. */
function showRecoveryCodes(form, codes) {
  const list = document.getElementById("key-recovery-codes");
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    const text = document.createElement("code");
    text.textContent = code;
    item.append(text);
    return item;
  }));
  form.hidden = true;
  document.getElementById("key-recovery").hidden = false;
}

async function postForm(url, fields) {
  const body = new URLSearchParams(fields);
  const response = await fetch(url, { method: "POST", body, redirect: "manual", headers: { Accept: "application/json" } });
  // Re-authentication lapsed: the page itself goes where the server sends it.
  if (response.type === "opaqueredirect") return { redirect: "/security" };
  if ((response.headers.get("content-type") ?? "").startsWith("application/json")) return response.json();
  if (response.status === 403) return { message: "This page has expired: reload it and try again." };
  return { message: `The server could not complete this request (HTTP ${response.status}). Try again in a moment.` };
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("key-form");
  if (!form) return;
  if (!window.PublicKeyCredential || !navigator.credentials?.create) return;
  document.getElementById("keys-unsupported").hidden = true;
  form.hidden = false;
  const name = form.querySelector("#key-name");
  const error = form.querySelector("#key-error");
  const button = form.querySelector("button[type=submit]");
  const show = (answer) => {
    error.textContent = answer.message;
    error.hidden = false;
    if (answer.field === "name") {
      name.setAttribute("aria-invalid", "true");
      name.focus();
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    name.removeAttribute("aria-invalid");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = "Touch your key…";
    try {
      const csrf = form.elements.csrf.value;
      const started = await postForm(form.action, { csrf, name: name.value });
      if (started.redirect) return location.assign(started.redirect);
      if (!started.options) return show(started);
      let credential;
      try {
        credential = await navigator.credentials.create(creationOptions(started.options));
      } catch (refusal) {
        return show({ message: ceremonyRefusal(refusal) });
      }
      if (!credential) return show({ message: ceremonyRefusal(null) });
      const answer = JSON.stringify(registrationAnswer(credential));
      const finished = await postForm(form.dataset.finish, { csrf, credential: answer });
      if (finished.recoveryCodes) return showRecoveryCodes(form, finished.recoveryCodes);
      if (finished.redirect) return location.assign(finished.redirect);
      show(finished);
    } catch (failure) {
      show({ message: `No key was added: ${failure.message}. Try again.` });
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
});

// A key enrolled during a login that must enrol a second factor (the enrolment page): the same
// ceremony under the pending login; the server answers the recovery codes and the completion
// code, shown once in place of the choices, whose form then finishes the login as any
// enrolment's does.
async function passkeysPossible() {
  const platform = await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable?.().catch(() => false);
  const autofill = await PublicKeyCredential.isConditionalMediationAvailable?.().catch(() => false);
  return Boolean(platform || autofill);
}

function showEnrolmentCodes(choices, codes, completion) {
  const list = document.getElementById("enrol-key-codes");
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    const text = document.createElement("code");
    text.textContent = code;
    item.append(text);
    return item;
  }));
  document.getElementById("enrol-key-download").href =
    `data:text/plain;charset=utf-8,${encodeURIComponent(codes.join("\n"))}`;
  document.getElementById("enrol-key-completion").value = completion;
  choices.hidden = true;
  document.getElementById("enrol-key-recovery").hidden = false;
}

document.addEventListener("DOMContentLoaded", async () => {
  const section = document.getElementById("enrol-key");
  if (!section) return;
  if (!window.PublicKeyCredential || !navigator.credentials?.create) return;
  const form = document.getElementById("enrol-key-form");
  const error = document.getElementById("enrol-key-error");
  // The passkey's words and button sit in spans: a button's own display rule would outdo its
  // hidden attribute.
  if (await passkeysPossible()) {
    for (const passkey of section.querySelectorAll("[data-passkey]")) passkey.hidden = false;
  }
  section.hidden = false;
  const show = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const button = event.submitter ?? form.querySelector("button[type=submit]");
    const buttons = [...form.querySelectorAll("button[type=submit]")];
    const label = button.textContent;
    for (const each of buttons) each.disabled = true;
    button.textContent = "Touch your key…";
    try {
      const csrf = form.elements.csrf.value;
      const name = form.elements.name.value;
      const started = await postForm(form.dataset.start, { csrf, name, kind: button.value });
      if (started.redirect) return location.assign(started.redirect);
      if (!started.options) return show(started.message);
      let credential;
      try {
        credential = await navigator.credentials.create(creationOptions(started.options));
      } catch (refusal) {
        return show(ceremonyRefusal(refusal));
      }
      if (!credential) return show(ceremonyRefusal(null));
      const answer = JSON.stringify(registrationAnswer(credential));
      const finished = await postForm(form.action, { csrf, credential: answer });
      if (finished.redirect) return location.assign(finished.redirect);
      if (finished.completion) return showEnrolmentCodes(section.closest(".card"), finished.recoveryCodes ?? [], finished.completion);
      show(finished.message);
    } catch (failure) {
      show(`No key was added: ${failure.message}. Try again.`);
    } finally {
      for (const each of buttons) each.disabled = false;
      button.textContent = label;
    }
  });
});

// Logging in with a key (the code page) or a passkey (the login page): the server's options
// for navigator.credentials.get, the key's answer back in base64url; the server answers where
// to go next, or why not, shown beside the button.
function requestOptions({ publicKey }, extra = {}) {
  return {
    ...extra,
    publicKey: {
      ...publicKey,
      challenge: base64url.decode(publicKey.challenge),
      allowCredentials: (publicKey.allowCredentials ?? []).map((c) => ({ ...c, id: base64url.decode(c.id) })),
    },
  };
}

function assertionAnswer(credential) {
  const { response } = credential;
  return {
    id: credential.id,
    rawId: base64url.encode(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: base64url.encode(response.authenticatorData),
      clientDataJSON: base64url.encode(response.clientDataJSON),
      signature: base64url.encode(response.signature),
      userHandle: response.userHandle ? base64url.encode(response.userHandle) : null,
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
  };
}

/** Why the browser gave no answer to a login's request, `what` naming the key. */
function loginRefusal(error, what) {
  switch (error?.name) {
    case "NotAllowedError":
      return `No ${what} answered: it was cancelled, it timed out, or none is registered here. Try again.`;
    case "SecurityError":
      return `This browser does not allow a ${what} at this address.`;
    default:
      return `The browser refused the ${what} (${error?.name ?? "unknown error"}). Try again.`;
  }
}

/** Runs a login's ceremony from `form` (its data-start, its action, its CSRF token and fields):
 * `mediation` "conditional" waits for the username field's autofill, `signal` lets a click
 * cancel that wait; `fields` (or a function giving them, read once the key has answered, so a
 * box ticked meanwhile counts) go with the answer. Answers whether the ceremony ended. */
async function keyLogin(form, show, { what, mediation, signal, fields = {} } = {}) {
  const csrf = form.elements.csrf.value;
  const started = await postForm(form.dataset.start, { csrf });
  if (started.redirect) return location.assign(started.redirect);
  if (!started.options) return show(started.message);
  let credential;
  try {
    const extra = mediation ? { mediation, signal } : { signal };
    credential = await navigator.credentials.get(requestOptions(started.options, extra));
  } catch (refusal) {
    // A conditional request given up for the button's own says nothing.
    if (refusal?.name === "AbortError") return;
    return show(loginRefusal(refusal, what));
  }
  if (!credential) return show(loginRefusal(null, what));
  const answer = JSON.stringify(assertionAnswer(credential));
  const extraFields = typeof fields === "function" ? fields() : fields;
  const finished = await postForm(form.action, { csrf, credential: answer, ...extraFields });
  if (finished.redirect) return location.assign(finished.redirect);
  show(finished.message);
}

function keyLoginForm(id, what, onReady) {
  const form = document.getElementById(id);
  if (!form) return;
  if (!window.PublicKeyCredential || !navigator.credentials?.get) return;
  form.hidden = false;
  const error = form.querySelector(".error");
  const button = form.querySelector("button[type=submit]");
  const show = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  const run = async (options) => {
    try {
      await keyLogin(form, show, { what, ...options });
    } catch (failure) {
      show(`The ${what} could not be used: ${failure.message}. Try again.`);
    }
  };
  onReady?.(form, run, button, error);
}

document.addEventListener("DOMContentLoaded", () => {
  keyLoginForm("key-login", "security key", (form, run, button, error) => {
    const unsupported = document.getElementById("key-unsupported");
    if (unsupported) unsupported.hidden = true;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      const label = button.textContent;
      button.disabled = true;
      button.textContent = "Touch your key…";
      // "Trust this computer": the key's form has its own box, or it sits in the code's form.
      const trust = document.querySelector("input[name=trust]")?.checked;
      await run({ fields: trust ? { trust: "1" } : {} });
      button.disabled = false;
      button.textContent = label;
    });
  });

  keyLoginForm("passkey-login", "passkey", async (form, run, button, error) => {
    let waiting = null;
    // The password form's "Remember me" counts for a passkey's session too.
    const remember = () => (document.querySelector("input[name=remember]")?.checked ? { remember: "1" } : {});
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      // The autofill's request, if any, gives way to the button's.
      waiting?.abort();
      waiting = new AbortController();
      button.disabled = true;
      await run({ signal: waiting.signal, fields: remember });
      button.disabled = false;
    });
    if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
    // Each request keeps a ceremony on the server: the autofill's begins once the person comes
    // to the username field (a click, a key, a tab into it), never at the page's load, whose
    // autofocus is no one's doing.
    const username = document.getElementById("username");
    const begin = (event) => {
      if (event.type === "focus" && !event.relatedTarget) return;
      for (const type of ["focus", "pointerdown", "keydown"]) username.removeEventListener(type, begin);
      waiting = new AbortController();
      run({ mediation: "conditional", signal: waiting.signal, fields: remember });
    };
    for (const type of ["focus", "pointerdown", "keydown"]) username?.addEventListener(type, begin);
  });

  // Re-authentication with a key: the password, when the page asks for it, goes with the key's
  // answer; where keys are the only second factor, the password's own form runs the key too.
  keyLoginForm("reauth-key", "security key", (form, run, button, error) => {
    const unsupported = document.getElementById("reauth-key-unsupported");
    if (unsupported) unsupported.hidden = true;
    const password = form.dataset.password ? document.getElementById(form.dataset.password) : null;
    const go = async () => {
      error.hidden = true;
      if (password && !password.value) {
        error.textContent = "Enter your password, then use your security key.";
        error.hidden = false;
        password.focus();
        return;
      }
      const label = button.textContent;
      button.disabled = true;
      button.textContent = "Touch your key…";
      await run({ fields: password ? { password: password.value } : {} });
      button.disabled = false;
      button.textContent = label;
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      go();
    });
    if (form.dataset.prompt) {
      const recovery = document.getElementById("recovery-code");
      document.getElementById("reauth-form")?.addEventListener("submit", (event) => {
        // A recovery code given in place of the key goes as the form's own post.
        if (event.submitter?.id === "reauth-recovery-submit" && recovery?.value.trim()) return;
        event.preventDefault();
        go();
      });
    }
  });
});
