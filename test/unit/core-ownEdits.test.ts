import assert from 'node:assert/strict';
import { OwnEdits } from '../../src/core/ownEdits';

describe('OwnEdits: telling the generator\'s own inserts from everyone else\'s edits', () => {
  it('claims the insert it expects, once', () => {
    const own = new OwnEdits();
    own.expect(10, 'hello');
    assert.equal(own.claim({ rangeOffset: 10, rangeLength: 0, text: 'hello' }, '\n'), true);
    assert.equal(own.claim({ rangeOffset: 10, rangeLength: 0, text: 'hello' }, '\n'), false, 'a second identical change is not ours');
  });

  it('refuses a keystroke at the insertion point, a deletion and a replacement', () => {
    const own = new OwnEdits();
    own.expect(10, 'hello');
    assert.equal(own.claim({ rangeOffset: 10, rangeLength: 0, text: 'T' }, '\n'), false);
    assert.equal(own.claim({ rangeOffset: 9, rangeLength: 1, text: '' }, '\n'), false);
    assert.equal(own.claim({ rangeOffset: 10, rangeLength: 3, text: 'hello' }, '\n'), false);
    assert.equal(own.claim({ rangeOffset: 11, rangeLength: 0, text: 'hello' }, '\n'), false);
    assert.equal(own.claim({ rangeOffset: 10, rangeLength: 0, text: 'hello' }, '\n'), true, 'the expected insert is still ours');
  });

  it('matches an insert whose line breaks the editor turned into the document\'s', () => {
    const own = new OwnEdits();
    own.expect(0, 'a\nb\r\nc');
    assert.equal(own.claim({ rangeOffset: 0, rangeLength: 0, text: 'a\r\nb\r\nc' }, '\r\n'), true);
  });

  it('forgets an insert the editor refused', () => {
    const own = new OwnEdits();
    own.expect(3, 'x');
    own.forget(3, 'x');
    assert.equal(own.claim({ rangeOffset: 3, rangeLength: 0, text: 'x' }, '\n'), false);
  });
});
