// Ghost text while the suggest widget is open: the prompt reads as if the selected item were accepted, and the
// ghost text continues that item (VS Code shows it only when it extends the item over the item's range).
import assert from 'node:assert/strict';
import { continueSelectedItem, promptWithSelectedItem } from '../../src/core/selectedCompletion';

describe('core/selectedCompletion', () => {
  it('replaces the typed part of the word with the selected item in the text before the cursor', () => {
    // "pri|" with "print" selected; the item replaces the 3 characters before the cursor.
    const request = promptWithSelectedItem({ prefix: 'x = 1\npri', cursorOffset: 109 }, { replacedBefore: 3, text: 'print' });
    assert.deepEqual(request, { prefix: 'x = 1\nprint', cursorOffset: 111 });
  });

  it('works when nothing is typed yet and when the host read only part of the document', () => {
    assert.deepEqual(promptWithSelectedItem({ prefix: 'a.', cursorOffset: undefined }, { replacedBefore: 0, text: 'append' }), { prefix: 'a.append', cursorOffset: 8 });
    assert.deepEqual(promptWithSelectedItem({ prefix: 'pr', cursorOffset: 5000 }, { replacedBefore: 2, text: 'print' }), { prefix: 'print', cursorOffset: 5003 });
  });

  it('never cuts more than the text it has, whatever the range says', () => {
    assert.deepEqual(promptWithSelectedItem({ prefix: 'pr', cursorOffset: 2 }, { replacedBefore: 9, text: 'print' }), { prefix: 'print', cursorOffset: 5 });
    assert.deepEqual(promptWithSelectedItem({ prefix: 'pr', cursorOffset: 2 }, { replacedBefore: -1, text: 'x' }), { prefix: 'prx', cursorOffset: 3 });
  });

  it('the ghost text starts with the item and continues it; an empty continuation offers nothing', () => {
    assert.deepEqual(continueSelectedItem(['("hi")', ''], 'print'), ['print("hi")']);
    assert.deepEqual(continueSelectedItem([], 'print'), []);
  });
});
