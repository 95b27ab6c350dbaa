/*
 * app.js - what JavaScript adds to the CRM's pages. Every page works
 * without it: its forms post to the API, which answers a browser with a
 * 303 to the result's page, or with a page naming the problem.
 *
 * With it, a form marked data-enhance is sent by fetch with the same body
 * (so the same API code checks it) and asks for JSON:
 *   - success: the browser goes to the form's _next page, or to its
 *     data-next page with {id} replaced by the answer's id, or the page
 *     is reloaded;
 *   - a problem (application/problem+json): each errors[] entry is shown
 *     next to its field (the element whose data-error-for is the field's
 *     name) and the field is marked invalid; the title and detail go in
 *     the form's [data-form-error] box, which is announced (role=alert).
 * A form with data-confirm asks first.
 */
(function () {
    'use strict';

    function clearErrors(form) {
        form.querySelectorAll('[data-error-for]').forEach(function (el) {
            el.textContent = '';
        });
        form.querySelectorAll('[aria-invalid="true"]').forEach(function (el) {
            el.removeAttribute('aria-invalid');
        });
        var box = form.querySelector('[data-form-error]');
        if (box) {
            box.textContent = '';
            box.hidden = true;
        }
    }

    function field(form, name) {
        var els = form.elements.namedItem(name);
        if (els && typeof els.length === 'number' && !els.tagName)
            return els[0];
        return els;
    }

    function showProblem(form, problem, status) {
        var box = form.querySelector('[data-form-error]');
        var loose = [];
        var first = null;
        (problem.errors || []).forEach(function (e) {
            var slot = null;
            form.querySelectorAll('[data-error-for]').forEach(function (el) {
                if (el.getAttribute('data-error-for') === e.field)
                    slot = el;
            });
            var control = field(form, e.field);
            if (slot)
                slot.textContent = e.message;
            /* An error with no field of its own (a whole group, say) is also
               said in the alert box, which screen readers announce. */
            if (!slot || !control)
                loose.push(e.field + ': ' + e.message);
            if (control && control.setAttribute) {
                control.setAttribute('aria-invalid', 'true');
                if (!first)
                    first = control;
            }
        });
        if (box) {
            var text = problem.title || ('Error ' + status);
            if (problem.detail)
                text += ': ' + problem.detail;
            if (status === 412 || status === 428)
                text += '. Someone changed this record after you opened it; nothing was saved. ' +
                    'Reload the page to see the current version.';
            if (loose.length)
                text += ' (' + loose.join('; ') + ')';
            box.textContent = text;
            box.hidden = false;
            box.setAttribute('data-status', String(status));
        }
        if (first && first.focus)
            first.focus();
        else if (box)
            box.focus();
    }

    function nextPage(form, body) {
        var next = field(form, '_next');
        if (next && next.value)
            return next.value;
        var tpl = form.getAttribute('data-next');
        if (tpl && body && body.id !== undefined)
            return tpl.replace('{id}', encodeURIComponent(String(body.id)));
        return null;
    }

    function submit(form, ev) {
        ev.preventDefault();
        var ask = form.getAttribute('data-confirm');
        if (ask && !window.confirm(ask))
            return;
        clearErrors(form);
        var buttons = form.querySelectorAll('button');
        buttons.forEach(function (b) { b.disabled = true; });
        var data = new URLSearchParams(new FormData(form, ev.submitter || undefined));
        fetch(form.action, {
            method: 'POST',
            body: data,
            credentials: 'same-origin',
            headers: { 'Accept': 'application/json' }
        }).then(function (res) {
            var type = res.headers.get('Content-Type') || '';
            var parse = type.indexOf('json') >= 0 ? res.json() : Promise.resolve(null);
            return parse.then(function (body) { return { res: res, body: body }; });
        }).then(function (out) {
            buttons.forEach(function (b) { b.disabled = false; });
            if (out.res.ok) {
                var next = nextPage(form, out.body);
                if (next)
                    window.location.assign(next);
                else
                    window.location.reload();
                return;
            }
            showProblem(form, out.body || { title: 'Error ' + out.res.status }, out.res.status);
        }).catch(function () {
            buttons.forEach(function (b) { b.disabled = false; });
            showProblem(form, { title: 'The request did not reach the server; try again' }, 0);
        });
    }

    function enhance(root) {
        root.querySelectorAll('form[data-enhance]').forEach(function (form) {
            if (form.hasAttribute('data-enhanced'))
                return;
            form.setAttribute('data-enhanced', '');
            var box = form.querySelector('[data-form-error]');
            if (box)
                box.setAttribute('tabindex', '-1');
            form.addEventListener('submit', function (ev) { submit(form, ev); });
        });
    }

    /* Plain forms (the logout button, filters) may still ask first. */
    document.addEventListener('submit', function (ev) {
        var form = ev.target;
        if (form.hasAttribute('data-enhance'))
            return;
        var ask = form.getAttribute('data-confirm');
        if (ask && !window.confirm(ask))
            ev.preventDefault();
    });

    if (document.readyState === 'loading')
        document.addEventListener('DOMContentLoaded', function () { enhance(document); });
    else
        enhance(document);
    window.crmEnhance = enhance;
}());
