/*
 * segments.js - what JavaScript adds to the segment pages' rule builder.
 * Without it the form offers a fixed number of rows and works all the
 * same: the server reads rule.match and rule.conditions[i].field, .op and
 * .value, and leaves empty rows out.
 *
 * With it:
 *   - rows can be added (up to the builder's data-rows-max) and removed;
 *   - the number of customers the rule matches follows the edits: 300 ms
 *     after the last change the rule's fields are posted, as the form
 *     would post them, to /api/v1/segments/preview (so the same server
 *     code reads and checks them), and the answer, or what is wrong with
 *     the rule, is shown in <output id="segment-preview">.
 */
(function () {
    'use strict';

    var DELAY = 300;

    /* The form's rule fields only: name and description are not the rule's. */
    function ruleBody(form) {
        var body = new URLSearchParams();
        new FormData(form).forEach(function (value, name) {
            if (name === 'rule' || name.indexOf('rule.') === 0)
                body.append(name, value);
        });
        return body;
    }

    /* "rule.conditions[2].value" -> "Condition 3 value" */
    function place(field) {
        var m = /^rule\.conditions\[(\d+)\]\.(\w+)$/.exec(field || '');
        if (m)
            return 'Condition ' + (Number(m[1]) + 1) + ' ' + m[2];
        return field === 'rule.conditions' ? 'Rule' : field;
    }

    function problemText(problem, status) {
        var text = problem.title || ('Error ' + status);
        var errors = (problem.errors || []).map(function (e) {
            return place(e.field) + ': ' + e.message;
        });
        if (errors.length)
            text += ' (' + errors.join('; ') + ')';
        else if (problem.detail)
            text += ': ' + problem.detail;
        return text;
    }

    function previewer(form, out) {
        var token = form.elements.namedItem('csrf_token');
        var seq = 0;
        var timer = null;

        function show(text, bad) {
            out.textContent = text;
            out.classList.toggle('bad', bad);
        }

        function run() {
            var mine = ++seq;
            fetch('/api/v1/segments/preview', {
                method: 'POST',
                body: ruleBody(form),
                credentials: 'same-origin',
                headers: {
                    'Accept': 'application/json',
                    'X-CSRF-Token': token ? token.value : ''
                }
            }).then(function (res) {
                return res.json().then(function (body) {
                    return { res: res, body: body };
                });
            }).then(function (answer) {
                if (mine !== seq)
                    return; /* a later edit is being counted */
                if (answer.res.ok) {
                    var n = answer.body.count;
                    show(n + (n === 1 ? ' customer matches' : ' customers match'), false);
                } else {
                    show(problemText(answer.body || {}, answer.res.status), true);
                }
            }).catch(function () {
                if (mine === seq)
                    show('The count could not be fetched; it will be tried again at the ' +
                        'next change.', true);
            });
        }

        return function () {
            clearTimeout(timer);
            timer = setTimeout(run, DELAY);
        };
    }

    function rowIndex(row) {
        var el = row.querySelector('[name]');
        var m = el ? /conditions\[(\d+)\]/.exec(el.name) : null;
        return m ? Number(m[1]) : -1;
    }

    /* Give a copied row the names and ids of row `index`, and empty it. */
    function renumber(row, index) {
        row.querySelectorAll('*').forEach(function (el) {
            ['name', 'data-error-for'].forEach(function (attr) {
                var v = el.getAttribute(attr);
                if (v)
                    el.setAttribute(attr, v.replace(/conditions\[\d+\]/, 'conditions[' + index + ']'));
            });
            ['id', 'for', 'aria-describedby'].forEach(function (attr) {
                var v = el.getAttribute(attr);
                if (v)
                    el.setAttribute(attr, v.replace(/conditions-\d+-/, 'conditions-' + index + '-'));
            });
            el.removeAttribute('aria-invalid');
        });
        row.querySelectorAll('label').forEach(function (label) {
            label.textContent = label.textContent.replace(/\d+/, String(index + 1));
        });
        row.querySelectorAll('[data-error-for]').forEach(function (el) {
            el.textContent = '';
        });
        clear(row);
    }

    function clear(row) {
        row.querySelectorAll('select').forEach(function (sel) {
            sel.selectedIndex = 0;
            if (/\.op$/.test(sel.name))
                sel.value = 'eq';
        });
        row.querySelectorAll('input').forEach(function (input) {
            input.value = '';
        });
    }

    function builder(fieldset, changed) {
        var max = Number(fieldset.getAttribute('data-rows-max')) || 20;
        var add = document.createElement('button');

        function rows() {
            return fieldset.querySelectorAll('[data-rule-row]');
        }

        function update() {
            add.disabled = rows().length >= max;
        }

        function removable(row) {
            var button = document.createElement('button');
            button.type = 'button';
            button.className = 'secondary';
            button.textContent = 'Remove';
            button.setAttribute('aria-label', 'Remove condition ' + (rowIndex(row) + 1));
            button.addEventListener('click', function () {
                if (rows().length > 1) {
                    row.remove();
                    add.focus();
                } else {
                    clear(row);
                    row.querySelector('select').focus();
                }
                update();
                changed();
            });
            row.appendChild(button);
        }

        function addRow() {
            var all = rows();
            var used = {};
            var index = 0;
            if (all.length >= max)
                return;
            all.forEach(function (row) { used[rowIndex(row)] = true; });
            while (used[index])
                index++;
            var last = all[all.length - 1];
            var row = last.cloneNode(true);
            row.querySelectorAll('button').forEach(function (b) { b.remove(); });
            renumber(row, index);
            last.after(row);
            removable(row);
            row.querySelector('select').focus();
            update();
        }

        if (!rows().length)
            return; /* a rule with groups: edited as JSON */
        rows().forEach(removable);
        add.type = 'button';
        add.className = 'secondary';
        add.textContent = 'Add a condition';
        add.addEventListener('click', addRow);
        var holder = document.createElement('p');
        holder.className = 'actions';
        holder.appendChild(add);
        var all = rows();
        all[all.length - 1].after(holder);
        update();
    }

    function init() {
        var out = document.getElementById('segment-preview');
        var form = out ? out.closest('form') : null;
        var fieldset = out ? out.closest('[data-rule-builder]') : null;
        if (!form || !fieldset)
            return;
        var changed = previewer(form, out);
        builder(fieldset, changed);
        fieldset.addEventListener('input', changed);
        fieldset.addEventListener('change', changed);
    }

    if (document.readyState === 'loading')
        document.addEventListener('DOMContentLoaded', init);
    else
        init();
}());
