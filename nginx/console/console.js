/*
 * orgd console: one page, plain JavaScript, no framework, no build step, no outside URL.
 *
 * nginx serves this page at /, /verify-email, /reset-password and /invitations (the
 * links of orgd's emails); the views inside / are hash routes (#/signin, #/signup,
 * #/forgot, #/orgs, #/dashboard). Everything comes from the API under /v1/ (API.md):
 * the session token is kept in localStorage and sent as `Authorization: Bearer`.
 * What a user may do is decided by the API: the page shows admin controls from the
 * dashboard's `role` (which orgd reads from the membership as it stands), and any error
 * the API answers, 403 included, is shown as the API's own message, next to the field
 * it names (error.field) or above the form's button.
 *
 * Every text that comes from the API or from a message is put in the page as text
 * (textContent), never as HTML.
 *
 * Developer panel: when the local stack runs with ORGD_DEV_MAIL=1, nginx serves the mail
 * sink's newest message at /dev/mail/latest (text/plain, to 127.0.0.1 only); the page
 * shows it in a small panel, its links clickable. Otherwise that path is a JSON 404 and
 * the panel stays hidden.
 */
'use strict';
(() => {
	const TOKEN_KEY = 'orgd.session';
	const NEXT_KEY = 'orgd.next';
	const TEST_CARDS = [
		['pm_card_visa', 'Visa 4242 \u00b7 succeeds'],
		['pm_card_mastercard', 'Mastercard 4444 \u00b7 succeeds'],
		['pm_card_chargeDeclined', 'Visa 0002 \u00b7 declines'],
	];
	const ENV_KINDS = ['development', 'staging', 'production'];
	const MAIL_LINK_PATHS = ['/verify-email', '/reset-password', '/invitations'];

	// --- small helpers ---------------------------------------------------------------

	function h(tag, attrs, ...children) {
		const el = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === null || v === undefined || v === false) continue;
			if (k === 'class') el.className = v;
			else if (k === 'text') el.textContent = v;
			else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
			else if (v === true) el.setAttribute(k, '');
			else el.setAttribute(k, String(v));
		}
		for (const c of children.flat(Infinity)) {
			if (c === null || c === undefined || c === false) continue;
			el.append(c instanceof Node ? c : document.createTextNode(String(c)));
		}
		return el;
	}

	const fmtInt = (n) => Number(n).toLocaleString('en-US');
	const fmtUSD = (cents) =>
		'$' + (Number(cents) / 100).toLocaleString('en-US', {minimumFractionDigits: 2, maximumFractionDigits: 2});
	function fmtDate(s) {
		if (!s) return '';
		const d = new Date(s);
		return isNaN(d) ? String(s) : d.toISOString().slice(0, 10);
	}
	const isAdminRole = (role) => role === 'owner' || role === 'admin';

	function storage(op, key, value) {
		try {
			if (op === 'get') return window.localStorage.getItem(key);
			if (op === 'set') window.localStorage.setItem(key, value);
			if (op === 'del') window.localStorage.removeItem(key);
		} catch (e) {
			/* storage refused (private mode): the session lasts as long as the page */
		}
		return null;
	}

	// a fresh Idempotency-Key (crypto.getRandomValues works outside secure contexts too)
	function newKey() {
		const b = new Uint8Array(16);
		crypto.getRandomValues(b);
		return 'console-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
	}

	// --- state -----------------------------------------------------------------------

	const S = {
		token: storage('get', TOKEN_KEY),
		me: null, // GET /v1/me
		lastEmail: '',
		verified: null, // the outcome of this page's /verify-email, kept across re-renders
		resetToken: null,
		purchase: null, // {key, body}: reused only to retry the same purchase after no answer
	};

	function setToken(token) {
		S.token = token || null;
		if (S.token) storage('set', TOKEN_KEY, S.token);
		else storage('del', TOKEN_KEY);
	}

	function endSession() {
		setToken(null);
		S.me = null;
	}

	// --- the API ---------------------------------------------------------------------

	class ApiError extends Error {
		constructor(status, code, message, field) {
			super(message);
			this.status = status;
			this.code = code;
			this.field = field || null;
		}
	}

	async function api(method, path, body, opts) {
		opts = opts || {};
		const headers = {Accept: 'application/json'};
		if (body !== undefined) headers['Content-Type'] = 'application/json';
		const token = S.token;
		if (token) headers.Authorization = 'Bearer ' + token;
		Object.assign(headers, opts.headers || {});
		let resp;
		try {
			resp = await fetch('/v1' + path, {
				method,
				headers,
				body: body === undefined ? undefined : JSON.stringify(body),
				cache: 'no-store',
				credentials: 'omit',
			});
		} catch (e) {
			const err = new ApiError(0, 'network', 'The server could not be reached. Check the connection and try again.');
			err.noAnswer = true;
			throw err;
		}
		const text = await resp.text();
		let data = null;
		if (text) {
			try {
				data = JSON.parse(text);
			} catch (e) {
				data = null;
			}
		}
		if (method !== 'GET') devMailSoon(); // a change may have sent a message
		if (!resp.ok) {
			const e = (data && data.error) || {};
			const err = new ApiError(resp.status, e.code || 'http_' + resp.status,
				e.message || 'The server answered ' + resp.status + '.', e.field);
			if (resp.status === 401 && token && token === S.token) {
				// the session ended (signed out elsewhere, expired, password reset)
				endSession();
				toast('Your session has ended. Please sign in again.', 'error');
				setTimeout(() => go('#/signin'), 0);
			}
			if (resp.status >= 500 && !e.message) err.noAnswer = true;
			throw err;
		}
		return data;
	}

	async function listAll(path, max) {
		const out = [];
		let after = null;
		for (let page = 0; page < (max || 10); page++) {
			const sep = path.includes('?') ? '&' : '?';
			const res = await api('GET', path + sep + 'limit=100' + (after ? '&after=' + encodeURIComponent(after) : ''));
			out.push(...res.data);
			if (!res.has_more || !res.data.length) break;
			after = res.data[res.data.length - 1].id;
		}
		return out;
	}

	async function loadMe() {
		S.me = await api('GET', '/me');
		renderSession();
		return S.me;
	}

	// --- page frame --------------------------------------------------------------------

	const app = () => document.getElementById('app');
	let viewGen = 0;

	function show(...nodes) {
		const root = app();
		root.replaceChildren(...nodes.flat().filter(Boolean));
		window.scrollTo(0, 0);
	}

	let toastTimer = null;
	function toast(text, kind) {
		const t = document.getElementById('toast');
		t.textContent = text;
		t.className = kind === 'error' ? 'toast-error' : 'toast-ok';
		t.hidden = false;
		clearTimeout(toastTimer);
		toastTimer = setTimeout(() => {
			t.hidden = true;
		}, 3500);
	}

	function renderSession() {
		const nav = document.getElementById('session');
		if (!nav) return;
		if (S.token) {
			const who = S.me ? S.me.user.email : '';
			nav.replaceChildren(
				who ? h('span', {class: 'who', id: 'who'}, who) : null,
				h('a', {href: '/#/orgs', id: 'nav-orgs'}, 'Organizations'),
				h('button', {type: 'button', class: 'link', id: 'signout', onclick: signOut}, 'Sign out'));
		} else {
			nav.replaceChildren(
				h('a', {href: '/#/signin', id: 'nav-signin'}, 'Sign in'),
				h('a', {href: '/#/signup', class: 'button small', id: 'nav-signup'}, 'Create account'));
		}
	}

	async function signOut() {
		try {
			if (S.token) await api('POST', '/auth/logout');
		} catch (e) {
			/* the session is gone either way */
		}
		endSession();
		renderSession();
		toast('Signed out.');
		go('#/signin');
	}

	function card(title, ...body) {
		return h('section', {class: 'card'}, title ? h('h2', null, title) : null, ...body);
	}

	function errorBox(err) {
		return h('p', {class: 'form-error', role: 'alert'}, messageOf(err));
	}

	function messageOf(err) {
		if (err instanceof ApiError) return err.message;
		console.error(err);
		return 'Something went wrong in the console: ' + (err && err.message ? err.message : String(err));
	}

	// --- forms: the API's errors next to their fields ------------------------------------

	let formSeq = 0;

	/*
	 * makeForm({id, fields:[{name,label,type,value,options,placeholder,hint,autocomplete}],
	 *           submit, onSubmit(values, form), class}) -> <form>
	 * The browser's own validation is off (novalidate): the API's rules, and its words, apply.
	 */
	function makeForm(o) {
		const id = o.id || 'form' + ++formSeq;
		const form = h('form', {id, class: 'form ' + (o.class || ''), novalidate: true});
		const inputs = {};
		for (const f of o.fields) {
			const inputId = id + '-' + f.name;
			let input;
			if (f.type === 'select') {
				input = h('select', {id: inputId, name: f.name},
					f.options.map(([v, label]) => h('option', {value: v, selected: String(v) === String(f.value)}, label)));
			} else if (f.type === 'checkbox') {
				input = h('input', {id: inputId, name: f.name, type: 'checkbox', checked: !!f.value});
			} else {
				input = h('input', {
					id: inputId, name: f.name, type: f.type || 'text', placeholder: f.placeholder,
					autocomplete: f.autocomplete, inputmode: f.type === 'number' ? 'numeric' : null,
					min: f.min, step: f.type === 'number' ? 1 : null,
				});
				if (f.value !== undefined && f.value !== null) input.value = String(f.value);
			}
			inputs[f.name] = input;
			const err = h('p', {class: 'field-error', id: inputId + '-error', 'data-error-for': f.name, hidden: true});
			input.setAttribute('aria-describedby', err.id);
			const hint = f.hint ? h('span', {class: 'hint'}, f.hint) : null;
			if (f.type === 'checkbox') {
				form.append(h('div', {class: 'field field-check'}, h('label', {for: inputId}, input, ' ', f.label), hint, err));
			} else {
				form.append(h('div', {class: 'field'}, h('label', {for: inputId}, f.label), input, hint, err));
			}
		}
		const formError = h('p', {class: 'form-error', id: id + '-error', role: 'alert', hidden: true});
		const button = h('button', {type: 'submit', id: id + '-submit'}, o.submit);
		form.append(formError, forbiddenHint(id), h('div', {class: 'actions'}, button, o.extra || null));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			clearErrors(form);
			const values = {};
			for (const f of o.fields) values[f.name] = valueOf(f, inputs[f.name]);
			button.disabled = true;
			form.classList.add('busy');
			try {
				await o.onSubmit(values, form);
			} catch (err) {
				showError(form, err);
			} finally {
				button.disabled = false;
				form.classList.remove('busy');
			}
		});
		return form;
	}

	// under a 403 (the API's message above it): what the page showed may be out of date
	function forbiddenHint(id) {
		return h('p', {class: 'form-hint', id: id + '-hint', hidden: true},
			'Your role here may have changed since this page was drawn. ',
			h('button', {type: 'button', class: 'link', onclick: () => route()}, 'Refresh'),
			' to see what it allows now.');
	}

	function valueOf(f, input) {
		if (f.type === 'checkbox') return input.checked;
		const v = input.value;
		if (f.type === 'number') {
			const t = v.trim();
			// an integer goes as a number; anything else as typed, for the API to judge
			return /^-?\d{1,15}$/.test(t) ? Number(t) : t;
		}
		if (f.type === 'email') return v.trim();
		return v;
	}

	function clearErrors(form) {
		for (const p of form.querySelectorAll('.field-error, .form-error')) {
			p.textContent = '';
			p.hidden = true;
		}
		for (const p of form.querySelectorAll('.form-hint')) p.hidden = true;
		for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
	}

	function showError(form, err) {
		const msg = messageOf(err);
		const field = err instanceof ApiError ? err.field : null;
		let target = null;
		if (field) {
			for (const p of form.querySelectorAll('[data-error-for]')) {
				if (p.getAttribute('data-error-for') === field) target = p;
			}
		}
		if (target) {
			target.textContent = msg;
			target.hidden = false;
			const input = form.querySelector('[name="' + CSS.escape(field) + '"]');
			if (input) {
				input.setAttribute('aria-invalid', 'true');
				input.focus();
			}
		} else {
			const p = form.querySelector('.form-error');
			p.textContent = msg;
			p.hidden = false;
		}
		if (err instanceof ApiError) form.setAttribute('data-error-code', err.code);
		const hint = form.querySelector('.form-hint');
		if (hint && err instanceof ApiError && err.status === 403 && S.me && S.me.active_org) hint.hidden = false;
	}

	// --- routing -----------------------------------------------------------------------

	// go('#/view') or go('/invitations'): a new history entry (unless already there), and
	// the view drawn at once (pushState fires no hashchange)
	function go(target) {
		const want = target.startsWith('#') ? '/' + target : target;
		if (location.pathname + location.search + location.hash !== want) history.pushState(null, '', want);
		route();
	}

	function requireSession(next) {
		if (S.token) return true;
		try {
			sessionStorage.setItem(NEXT_KEY, next);
		} catch (e) {
			/* no next then */
		}
		go('#/signin');
		return false;
	}

	function takeNext() {
		let next = null;
		try {
			next = sessionStorage.getItem(NEXT_KEY);
			sessionStorage.removeItem(NEXT_KEY);
		} catch (e) {
			next = null;
		}
		return next && (next.startsWith('#/') || MAIL_LINK_PATHS.includes(next)) ? next : null;
	}

	async function route() {
		const gen = ++viewGen;
		renderSession();
		const path = location.pathname;
		const view = (location.hash || '').replace(/^#\/?/, '');
		let fn;
		if (path === '/verify-email') fn = viewVerify;
		else if (path === '/reset-password') fn = viewReset;
		else if (path === '/invitations') fn = viewInvitations;
		else {
			fn = {signin: viewSignin, signup: viewSignup, forgot: viewForgot, orgs: viewOrgs, dashboard: viewDashboard}[view] ||
				viewHome;
		}
		document.body.setAttribute('data-view', fn.name.replace(/^view/, '').toLowerCase());
		// data-busy: a view is loading (what it shows may be replaced any moment)
		document.body.setAttribute('data-busy', '1');
		try {
			await fn(() => gen === viewGen);
		} catch (err) {
			if (gen !== viewGen) return;
			show(card('Something went wrong', errorBox(err),
				h('p', null, h('a', {href: '/#/'}, 'Back to the start'))));
		} finally {
			if (gen === viewGen) document.body.removeAttribute('data-busy');
		}
	}

	// --- views: signed out -----------------------------------------------------------------

	async function viewHome(current) {
		if (!S.token) return go('#/signin');
		const me = await loadMe();
		if (!current()) return;
		if (me.active_org) return go('#/dashboard');
		if (me.organizations.length === 1) {
			// one organization: no picker
			const res = await api('POST', '/auth/switch', {org_id: me.organizations[0].id});
			setToken(res.token);
			return go('#/dashboard');
		}
		go('#/orgs');
	}

	function viewSignin() {
		document.title = 'Sign in · orgd';
		const form = makeForm({
			id: 'signin',
			fields: [
				{name: 'email', label: 'Email', type: 'email', value: S.lastEmail, autocomplete: 'username'},
				{name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password'},
			],
			submit: 'Sign in',
			onSubmit: async (v) => {
				const res = await api('POST', '/auth/login', v);
				setToken(res.token);
				S.me = {user: res.user, organizations: res.organizations, active_org: res.active_org};
				S.lastEmail = v.email;
				renderSession();
				const next = takeNext();
				if (next) return go(next);
				go(res.active_org ? '#/dashboard' : '#/orgs');
			},
		});
		show(h('div', {class: 'narrow'}, card('Sign in', form,
			h('p', {class: 'muted'}, h('a', {href: '/#/signup', id: 'to-signup'}, 'Create an account'), ' · ',
				h('a', {href: '/#/forgot', id: 'to-forgot'}, 'Forgot your password?')))));
	}

	function viewSignup() {
		document.title = 'Create an account · orgd';
		const form = makeForm({
			id: 'signup',
			fields: [
				{name: 'name', label: 'Your name', autocomplete: 'name'},
				{name: 'email', label: 'Email', type: 'email', autocomplete: 'email'},
				{name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password',
					hint: '10 to 128 characters.'},
			],
			submit: 'Create account',
			onSubmit: async (v) => {
				const res = await api('POST', '/auth/signup', v);
				S.lastEmail = res.user.email;
				show(h('div', {class: 'narrow'}, card('Check your inbox',
					h('p', {id: 'signup-done'}, 'We sent a verification link to ', h('strong', null, res.user.email),
						'. Open it to verify your address, then sign in.'),
					h('p', {class: 'muted'}, 'Invitations to organizations reach you once the address is verified.'),
					h('div', {class: 'actions'}, h('a', {href: '/#/signin', class: 'button', id: 'to-signin'}, 'Sign in')))));
			},
		});
		show(h('div', {class: 'narrow'}, card('Create an account', form,
			h('p', {class: 'muted'}, 'Already have one? ', h('a', {href: '/#/signin'}, 'Sign in')))));
	}

	function viewForgot() {
		document.title = 'Reset your password · orgd';
		const form = makeForm({
			id: 'forgot',
			fields: [{name: 'email', label: 'Email', type: 'email', value: S.lastEmail, autocomplete: 'username'}],
			submit: 'Send a reset link',
			onSubmit: async (v) => {
				await api('POST', '/auth/password-reset', v);
				show(h('div', {class: 'narrow'}, card('Check your inbox',
					h('p', null, 'If an account exists for ', h('strong', null, v.email),
						', we sent it a link to choose a new password. The link works once, for one hour.'),
					h('p', null, h('a', {href: '/#/signin'}, 'Back to sign in')))));
			},
		});
		show(h('div', {class: 'narrow'}, card('Reset your password', form)));
	}

	async function viewVerify(current) {
		document.title = 'Verify your email · orgd';
		const token = new URLSearchParams(location.search).get('token');
		if (token) {
			// the token is single-use: take it out of the address bar and the history
			history.replaceState(null, '', '/verify-email');
			show(h('div', {class: 'narrow'}, card('Verifying your email…', h('p', {class: 'loading'}, 'One moment.'))));
			try {
				const res = await api('POST', '/auth/verify-email', {token});
				S.verified = {ok: true, email: res.user.email};
				if (S.me && S.me.user.id === res.user.id) S.me.user = res.user;
			} catch (err) {
				S.verified = {ok: false, err};
			}
		}
		if (!current()) return;
		const v = S.verified;
		if (!v) {
			return show(h('div', {class: 'narrow'}, card('Verify your email',
				h('p', null, 'Open the link in the verification message we sent you. Each link works once.'),
				h('p', null, h('a', {href: '/#/'}, 'Go to the console')))));
		}
		if (!v.ok) {
			return show(h('div', {class: 'narrow'}, card('This link did not work',
				h('p', {class: 'form-error', role: 'alert', id: 'verify-error'}, messageOf(v.err)),
				h('p', null, S.token ? 'Ask for a new link from the console: '
					: 'Sign in to ask for a new link: ',
				h('a', {href: '/#/', id: 'verify-continue'}, S.token ? 'Go to the console' : 'Sign in')))));
		}
		show(h('div', {class: 'narrow'}, card('Email verified',
			h('p', {id: 'verify-done'}, 'Your address ', h('strong', null, v.email), ' is verified.'),
			h('p', {class: 'muted'}, 'Invitations sent to this address can now be seen and accepted.'),
			h('div', {class: 'actions'},
				S.token ? h('a', {href: '/#/', class: 'button', id: 'verify-continue'}, 'Continue')
					: h('a', {href: '/#/signin', class: 'button', id: 'verify-continue'}, 'Sign in'),
				S.token ? h('a', {href: '/invitations', class: 'button secondary'}, 'See your invitations') : null))));
		S.lastEmail = v.email;
	}

	function viewReset() {
		document.title = 'Choose a new password · orgd';
		const t = new URLSearchParams(location.search).get('token');
		if (t) {
			S.resetToken = t;
			history.replaceState(null, '', '/reset-password');
		}
		if (!S.resetToken) {
			return show(h('div', {class: 'narrow'}, card('Choose a new password',
				h('p', null, 'Open the link in the password reset message. Need one? ',
					h('a', {href: '/#/forgot'}, 'Ask for a reset link'), '.'))));
		}
		const form = makeForm({
			id: 'reset',
			fields: [{name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password',
				hint: '10 to 128 characters.'}],
			submit: 'Set the new password',
			onSubmit: async (v) => {
				await api('POST', '/auth/password-reset/confirm', {token: S.resetToken, password: v.password});
				S.resetToken = null;
				endSession(); // every session of the user was revoked
				renderSession();
				show(h('div', {class: 'narrow'}, card('Password changed',
					h('p', {id: 'reset-done'}, 'Your password is changed and every session was signed out.'),
					h('div', {class: 'actions'}, h('a', {href: '/#/signin', class: 'button'}, 'Sign in')))));
			},
		});
		show(h('div', {class: 'narrow'}, card('Choose a new password', form)));
	}

	// --- views: signed in ------------------------------------------------------------------

	function verifyBanner(me) {
		if (!me || me.user.email_verified) return null;
		const out = h('span', {class: 'banner-msg'});
		const btn = h('button', {type: 'button', class: 'small secondary', id: 'resend'}, 'Send the link again');
		btn.addEventListener('click', async () => {
			btn.disabled = true;
			try {
				await api('POST', '/auth/verify-email/resend');
				out.textContent = 'Sent. Check your inbox.';
				out.className = 'banner-msg ok';
			} catch (err) {
				out.textContent = messageOf(err);
				out.className = 'banner-msg error';
			} finally {
				btn.disabled = false;
			}
		});
		return h('div', {class: 'banner', id: 'verify-banner'},
			h('span', null, 'Verify ', h('strong', null, me.user.email),
				' from the link we sent you: invitations to organizations reach you once it is verified.'),
			btn, out);
	}

	function invitationList(invs, current) {
		if (!invs.length) return h('p', {class: 'muted', id: 'no-invitations'}, 'No pending invitations.');
		return h('ul', {class: 'list', id: 'invitations'}, invs.map((inv) => {
			const err = h('p', {class: 'form-error', role: 'alert', hidden: true});
			const accept = h('button', {type: 'button', class: 'small', 'data-accept': inv.org.name}, 'Accept');
			const decline = h('button', {type: 'button', class: 'small secondary', 'data-decline': inv.org.name}, 'Decline');
			const li = h('li', {class: 'invitation'},
				h('div', null, h('strong', null, inv.org.name), ' ', h('span', {class: 'badge role-' + inv.role}, inv.role),
					h('div', {class: 'muted'}, 'Invited by ', inv.invited_by ? inv.invited_by.name : 'someone',
						' · expires ', fmtDate(inv.expires_at))),
				h('div', {class: 'row-actions'}, accept, decline), err);
			accept.addEventListener('click', async () => {
				accept.disabled = decline.disabled = true;
				err.hidden = true;
				try {
					const res = await api('POST', '/invitations/' + encodeURIComponent(inv.id) + '/accept');
					setToken(res.token);
					toast('You joined ' + res.org.name + ' as ' + res.org.role + '.');
					go('#/dashboard');
				} catch (e) {
					err.textContent = messageOf(e);
					err.hidden = false;
					accept.disabled = decline.disabled = false;
				}
			});
			decline.addEventListener('click', async () => {
				accept.disabled = decline.disabled = true;
				try {
					await api('POST', '/invitations/' + encodeURIComponent(inv.id) + '/decline');
					li.remove();
					toast('Invitation to ' + inv.org.name + ' declined.');
				} catch (e) {
					err.textContent = messageOf(e);
					err.hidden = false;
					accept.disabled = decline.disabled = false;
				}
			});
			return li;
		}));
	}

	async function invitationsSection(me, current) {
		if (!me.user.email_verified) {
			return h('p', {class: 'muted'}, 'Once your email is verified, invitations sent to it appear here.');
		}
		try {
			return invitationList(await listAll('/invitations'), current);
		} catch (err) {
			return errorBox(err);
		}
	}

	async function viewInvitations(current) {
		document.title = 'Invitations · orgd';
		if (!requireSession('/invitations')) return;
		const me = await loadMe();
		if (!current()) return;
		let body;
		try {
			body = invitationList(await listAll('/invitations'), current);
		} catch (err) {
			body = h('div', null, h('p', {class: 'form-error', role: 'alert', id: 'invitations-error'}, messageOf(err)));
		}
		if (!current()) return;
		show(verifyBanner(me), h('div', {class: 'narrow wide'}, card('Your invitations', body,
			h('p', {class: 'muted'}, h('a', {href: '/#/orgs'}, 'Your organizations')))));
	}

	async function viewOrgs(current) {
		document.title = 'Organizations · orgd';
		if (!requireSession('#/orgs')) return;
		const me = await loadMe();
		const invs = await invitationsSection(me, current);
		if (!current()) return;
		const activeId = me.active_org ? me.active_org.id : null;
		const picker = me.organizations.length
			? h('ul', {class: 'list', id: 'org-list'}, me.organizations.map((o) => {
				const btn = h('button', {type: 'button', class: 'small', 'data-org': o.name},
					o.id === activeId ? 'Open' : 'Switch to');
				const err = h('p', {class: 'form-error', role: 'alert', hidden: true});
				btn.addEventListener('click', async () => {
					btn.disabled = true;
					try {
						if (o.id !== activeId) {
							const res = await api('POST', '/auth/switch', {org_id: o.id});
							setToken(res.token);
						}
						go('#/dashboard');
					} catch (e) {
						err.textContent = messageOf(e);
						err.hidden = false;
						btn.disabled = false;
					}
				});
				return h('li', null, h('div', null, h('strong', null, o.name), ' ',
					h('span', {class: 'badge role-' + o.role}, o.role),
					o.id === activeId ? h('span', {class: 'muted'}, ' · current') : null), btn, err);
			}))
			: h('p', {class: 'muted', id: 'no-orgs'}, 'You are not in any organization yet: create one, or accept an invitation.');
		const create = makeForm({
			id: 'create-org',
			fields: [{name: 'name', label: 'Organization name', placeholder: 'Acme Inc.'}],
			submit: 'Create organization',
			onSubmit: async (v) => {
				const res = await api('POST', '/orgs', v);
				setToken(res.token);
				toast('Created ' + res.org.name + '.');
				go('#/dashboard');
			},
		});
		const createCard = card('Create an organization', h('p', {class: 'muted'},
			'You become its owner. It starts on the Free plan with no credits.'), create);
		show(verifyBanner(me), h('div', {class: 'narrow wide'},
			h('h1', null, 'Organizations'),
			me.organizations.length ? card('Choose an organization', picker) : picker,
			me.organizations.length ? null : createCard,
			card('Invitations', invs),
			me.organizations.length ? createCard : null));
	}

	// --- the dashboard -----------------------------------------------------------------------

	async function viewDashboard(current) {
		document.title = 'Dashboard · orgd';
		if (!requireSession('#/dashboard')) return;
		const me = await loadMe();
		if (!current()) return;
		if (!me.active_org) return viewHome(current); // no organization chosen yet
		const [dash, members] = await Promise.all([api('GET', '/org/dashboard'), listAll('/org/members')]);
		if (!current()) return;
		document.title = dash.org.name + ' · orgd';
		const admin = isAdminRole(dash.role);
		const ctx = {me, dash, members, admin, owner: dash.role === 'owner'};
		const refresh = h('button', {type: 'button', class: 'small secondary', id: 'refresh', onclick: () => route()}, 'Refresh');
		const head = h('div', {class: 'page-head'},
			h('div', null,
				h('h1', {id: 'org-name'}, dash.org.name),
				h('p', {class: 'muted'}, 'You are ', h('span', {class: 'badge role-' + dash.role, id: 'my-role'}, dash.role),
					' · ', dash.plan.name, ' plan · ', fmtInt(dash.members.count), dash.members.count === 1 ? ' member' : ' members')),
			h('div', {class: 'row-actions'}, refresh,
				me.organizations.length > 1 ? h('a', {href: '/#/orgs', class: 'button small secondary'}, 'Switch organization') : null));
		show(verifyBanner(me), head,
			h('div', {class: 'grid'},
				usageCard(ctx), creditsCard(ctx),
				membersCard(ctx), environmentsCard(ctx),
				admin && dash.billing ? billingCard(ctx) : null));
	}

	function usageCard({dash}) {
		const {runs, limit, period} = dash.usage;
		const pct = limit > 0 ? Math.min(100, (runs / limit) * 100) : 100;
		const fill = h('div', {class: 'meter-fill' + (runs > limit ? ' over' : pct >= 80 ? ' high' : '')});
		fill.style.width = pct.toFixed(1) + '%';
		const over = runs > limit ? runs - limit : 0;
		const price = dash.plan.price_cents > 0 ? fmtUSD(dash.plan.price_cents) + ' a month' : 'no charge';
		return h('section', {class: 'card', id: 'usage'},
			h('h2', null, 'Plan and usage'),
			h('p', {class: 'big'}, h('span', {id: 'plan-name'}, dash.plan.name), h('span', {class: 'muted small-text'}, ' · ' + price)),
			h('div', {class: 'meter', role: 'progressbar', id: 'usage-bar', 'aria-valuemin': 0, 'aria-valuemax': limit,
				'aria-valuenow': runs, 'aria-label': 'Runs this month against the plan limit'}, fill),
			h('p', {id: 'usage-text'}, h('strong', null, fmtInt(runs)), ' of ', fmtInt(limit), ' runs in ', period,
				' (', Math.floor(limit > 0 ? (runs / limit) * 100 : 0) + '%', ')'),
			over ? h('p', {class: 'warn'}, fmtInt(over) + ' runs over the limit, each costing ' +
				dash.plan.overage_credits_per_run + ' credits.')
				: h('p', {class: 'muted'}, 'Runs beyond the limit cost ' + dash.plan.overage_credits_per_run +
					(dash.plan.overage_credits_per_run === 1 ? ' credit' : ' credits') + ' each.'));
	}

	function creditsCard({dash, admin}) {
		return h('section', {class: 'card', id: 'credits'},
			h('h2', null, 'Credits'),
			h('p', {class: 'big'}, h('span', {id: 'credit-balance'}, fmtInt(dash.credit_balance)), h('span', {class: 'muted small-text'}, ' credits')),
			h('p', {class: 'muted'}, '1 credit = 1 cent, spent on runs beyond the plan\u2019s limit.' +
				(admin ? ' Buy more under Billing.' : '')));
	}

	function membersCard(ctx) {
		const {members, admin, owner, me} = ctx;
		const roleOptions = (current) => ['member', 'admin', 'owner']
			.filter((r) => owner || r !== 'owner' || current === 'owner')
			.map((r) => [r, r]);
		const rows = members.map((m) => {
			const err = h('p', {class: 'form-error', role: 'alert', hidden: true});
			const fail = (e) => {
				err.textContent = messageOf(e);
				err.hidden = false;
			};
			let roleCell;
			if (admin && (owner || m.role !== 'owner')) {
				const sel = h('select', {'aria-label': 'Role of ' + m.email, 'data-role-of': m.email},
					roleOptions(m.role).map(([v, l]) => h('option', {value: v, selected: v === m.role}, l)));
				sel.addEventListener('change', async () => {
					err.hidden = true;
					sel.disabled = true;
					try {
						await api('PATCH', '/org/members/' + encodeURIComponent(m.id), {role: sel.value});
						toast('Role of ' + m.email + ' changed to ' + sel.value + '.');
						route();
					} catch (e) {
						sel.value = m.role;
						sel.disabled = false;
						fail(e);
					}
				});
				roleCell = sel;
			} else {
				roleCell = h('span', {class: 'badge role-' + m.role}, m.role);
			}
			const self = m.user_id && me && m.user_id === me.user.id;
			let action = null;
			if (admin || self) {
				const label = self ? 'Leave' : m.status === 'invited' ? 'Revoke' : 'Remove';
				action = h('button', {type: 'button', class: 'small danger', 'data-remove': m.email}, label);
				let armed = null;
				action.addEventListener('click', async () => {
					if (!armed) { // a second click confirms
						action.textContent = 'Confirm ' + label.toLowerCase();
						armed = setTimeout(() => {
							armed = null;
							action.textContent = label;
						}, 4000);
						return;
					}
					clearTimeout(armed);
					armed = null;
					action.disabled = true;
					err.hidden = true;
					try {
						await api('DELETE', '/org/members/' + encodeURIComponent(m.id));
						if (self) {
							toast('You left the organization.');
							go('#/orgs');
						} else {
							toast(m.email + (m.status === 'invited' ? ': invitation revoked.' : ' removed.'));
							route();
						}
					} catch (e) {
						action.disabled = false;
						action.textContent = label;
						fail(e);
					}
				});
			}
			const status = m.status === 'invited'
				? h('span', {class: 'status invited'}, 'invited · expires ' + fmtDate(m.expires_at))
				: h('span', {class: 'status active'}, 'active');
			return h('tr', {'data-member': m.email},
				h('td', null, m.name ? h('div', {class: 'who-name'}, m.name)
					: h('div', {class: 'who-name pending'}, 'not joined yet'), h('div', {class: 'muted'}, m.email)),
				h('td', null, roleCell), h('td', null, status), h('td', {class: 'right'}, action, err));
		});
		const table = h('table', {class: 'table', id: 'members'},
			h('thead', null, h('tr', null, h('th', null, 'Member'), h('th', null, 'Role'), h('th', null, 'Status'), h('th', null, ''))),
			h('tbody', null, rows));
		let invite = null;
		if (admin) {
			invite = makeForm({
				id: 'invite', class: 'inline',
				fields: [
					{name: 'email', label: 'Invite by email', type: 'email', placeholder: 'name@example.com'},
					{name: 'role', label: 'Role', type: 'select', value: 'member', options: roleOptions('member')},
				],
				submit: 'Send invitation',
				onSubmit: async (v) => {
					const inv = await api('POST', '/org/members', v);
					toast('Invitation sent to ' + inv.email + '.');
					route();
				},
			});
		}
		return h('section', {class: 'card span2', id: 'members-card'}, h('h2', null, 'Members'), table, invite);
	}

	function environmentsCard({dash, admin}) {
		const envs = dash.environments;
		const list = envs.length
			? h('table', {class: 'table', id: 'environments'},
				h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Kind'), h('th', null, 'Status'))),
				h('tbody', null, envs.map((e) => h('tr', {'data-env': e.name},
					h('td', null, h('strong', null, e.name)), h('td', null, h('span', {class: 'badge kind-' + e.kind}, e.kind)),
					h('td', null, h('span', {class: 'status ' + e.status}, e.status))))))
			: h('p', {class: 'muted', id: 'no-environments'}, 'No environments yet.');
		let create = null;
		if (admin) {
			create = makeForm({
				id: 'create-env', class: 'inline',
				fields: [
					{name: 'name', label: 'Name', placeholder: 'production'},
					{name: 'kind', label: 'Kind', type: 'select', value: 'development', options: ENV_KINDS.map((k) => [k, k])},
					{name: 'region', label: 'Region', placeholder: 'eu-west-1'},
				],
				submit: 'Create environment',
				onSubmit: async (v) => {
					const env = await api('POST', '/org/environments', v);
					toast('Environment ' + env.name + ' created.');
					route();
				},
			});
		}
		return h('section', {class: 'card span2', id: 'environments-card'}, h('h2', null, 'Environments'), list, create);
	}

	function billingCard({dash}) {
		const b = dash.billing;
		const pm = b.payment_method;
		const ar = b.auto_recharge;
		const brand = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : '');
		const removeBtn = pm ? h('button', {type: 'button', class: 'small secondary', id: 'remove-card'}, 'Remove card') : null;
		const pmForm = makeForm({
			id: 'payment-method', class: 'inline',
			fields: [{name: 'payment_method', label: pm ? 'Replace with a test card' : 'Test card', type: 'select',
				value: (pm && {'4444': 'pm_card_mastercard', '0002': 'pm_card_chargeDeclined'}[pm.last4]) || 'pm_card_visa',
				options: TEST_CARDS}],
			submit: 'Save card',
			extra: removeBtn,
			onSubmit: async (v) => {
				const res = await api('PUT', '/org/billing/payment-method', v);
				toast('Saved ' + brand(res.brand) + ' ending ' + res.last4 + '.');
				route();
			},
		});
		if (removeBtn) {
			removeBtn.addEventListener('click', async () => {
				removeBtn.disabled = true;
				clearErrors(pmForm);
				try {
					await api('DELETE', '/org/billing/payment-method');
					toast('Card removed; auto-recharge is off.');
					route();
				} catch (e) {
					removeBtn.disabled = false;
					showError(pmForm, e);
				}
			});
		}
		const buyForm = makeForm({
			id: 'buy-credits', class: 'inline',
			fields: [{name: 'credits', label: 'Credits to buy', type: 'number', value: 500, min: 500,
				hint: '500 to 1,000,000; 1 credit = 1 cent.'}],
			submit: 'Buy credits',
			onSubmit: async (v) => {
				// one key per purchase; the same key again only to retry the same purchase
				// that got no answer (the API then answers the first outcome, charging once)
				const body = JSON.stringify(v);
				if (!S.purchase || S.purchase.body !== body) S.purchase = {key: newKey(), body};
				let res;
				try {
					res = await api('POST', '/org/billing/credits', v, {headers: {'Idempotency-Key': S.purchase.key}});
				} catch (e) {
					if (!e.noAnswer) S.purchase = null;
					throw e;
				}
				S.purchase = null;
				const p = res.purchase;
				if (p.status === 'succeeded') toast('Bought ' + fmtInt(p.credits) + ' credits for ' + fmtUSD(p.amount_cents) + '.');
				else if (p.status === 'pending') toast('The payment is pending: the credits arrive once the provider confirms it.');
				else toast('The payment failed; nothing was credited.', 'error');
				route();
			},
		});
		const arForm = makeForm({
			id: 'auto-recharge', class: 'inline',
			fields: [
				{name: 'enabled', label: 'Recharge automatically', type: 'checkbox', value: ar.enabled},
				{name: 'threshold_credits', label: 'When the balance falls below', type: 'number',
					value: ar.threshold_credits || 100},
				{name: 'recharge_credits', label: 'Buy this many credits', type: 'number',
					value: ar.recharge_credits || 500},
			],
			submit: 'Save auto-recharge',
			onSubmit: async (v) => {
				const res = await api('PUT', '/org/billing/auto-recharge', v);
				toast(res.enabled ? 'Auto-recharge on: ' + fmtInt(res.recharge_credits) + ' credits below ' +
					fmtInt(res.threshold_credits) + '.' : 'Auto-recharge off.');
				route();
			},
		});
		return h('section', {class: 'card span2', id: 'billing'},
			h('h2', null, 'Billing'),
			h('div', {class: 'billing-grid'},
				h('div', {class: 'sub'},
					h('h3', null, 'Payment method'),
					h('p', {id: 'payment-method-current', class: pm ? 'pm' : 'muted'},
						pm ? brand(pm.brand) + ' \u2022\u2022\u2022\u2022 ' + pm.last4 : 'No payment method saved.'),
					pmForm),
				h('div', {class: 'sub'},
					h('h3', null, 'Buy credits'),
					h('p', {class: 'muted'}, 'Charged to the saved card at once.'),
					buyForm),
				h('div', {class: 'sub'},
					h('h3', null, 'Auto-recharge'),
					h('p', {id: 'auto-recharge-state', class: ar.enabled ? 'on' : 'muted'},
						ar.enabled ? 'On: ' + fmtInt(ar.recharge_credits) + ' credits whenever the balance is below ' +
							fmtInt(ar.threshold_credits) + '.' : 'Off.'),
					ar.failures ? h('p', {class: 'warn'}, ar.failures + ' recharge(s) failed in a row.') : null,
					arForm)));
	}

	// --- developer mail panel (ORGD_DEV_MAIL=1 only) ------------------------------------------

	let devMailText = null;
	let devMailTimer = null;

	async function devMailPoll() {
		let resp;
		try {
			resp = await fetch('/dev/mail/latest', {cache: 'no-store', credentials: 'omit'});
		} catch (e) {
			return;
		}
		const type = resp.headers.get('Content-Type') || '';
		if (!resp.ok || !type.startsWith('text/plain')) {
			// not served (ORGD_DEV_MAIL unset): no panel, no more asking
			document.getElementById('devmail').hidden = true;
			document.body.classList.remove('has-devmail');
			clearInterval(devMailTimer);
			devMailTimer = null;
			return;
		}
		const text = await resp.text();
		const panel = document.getElementById('devmail');
		panel.hidden = false;
		document.body.classList.add('has-devmail');
		if (text === devMailText) return;
		devMailText = text;
		const pre = document.getElementById('devmail-body');
		pre.replaceChildren();
		for (const line of text.split('\n')) {
			const t = line.trim();
			let a = null;
			if (/^https?:\/\/\S+$/.test(t)) {
				try {
					const u = new URL(t);
					// the console's own links, opened here whatever ORGD_APP_URL's host is
					if (MAIL_LINK_PATHS.includes(u.pathname)) {
						a = h('a', {href: u.pathname + u.search, class: 'devmail-link'}, t);
					}
				} catch (e) {
					a = null;
				}
			}
			pre.append(a || line, '\n');
		}
		panel.classList.add('fresh');
		setTimeout(() => panel.classList.remove('fresh'), 1200);
	}

	// the mailer delivers from orgd's outbox a moment after the answer: look again shortly
	function devMailSoon() {
		if (!devMailTimer) return;
		setTimeout(devMailPoll, 600);
		setTimeout(devMailPoll, 1500);
	}

	function devMailStart() {
		const panel = document.getElementById('devmail');
		const toggle = document.getElementById('devmail-toggle');
		const setCollapsed = (c) => {
			panel.classList.toggle('collapsed', c);
			toggle.textContent = c ? 'Show' : 'Hide';
			storage(c ? 'set' : 'del', 'orgd.devmail.collapsed', '1');
		};
		setCollapsed(storage('get', 'orgd.devmail.collapsed') === '1');
		toggle.addEventListener('click', () => setCollapsed(!panel.classList.contains('collapsed')));
		devMailPoll();
		devMailTimer = setInterval(() => {
			if (!document.hidden) devMailPoll();
		}, 2000);
	}

	// --- start -------------------------------------------------------------------------------

	window.addEventListener('hashchange', route);
	window.addEventListener('popstate', route);
	window.addEventListener('unhandledrejection', (ev) => {
		console.error(ev.reason);
		toast(messageOf(ev.reason), 'error');
	});
	document.addEventListener('DOMContentLoaded', () => {
		route();
		devMailStart();
	});
})();
