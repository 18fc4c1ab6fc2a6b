import { Button, Input, Text, View } from '@tarojs/components';
import type { Profile } from '@wxkit/shared';
import { useEffect, useState } from 'react';
import { api } from '../../api/index.ts';
import { Avatar } from '../../components/avatar.tsx';
import { FormCell } from '../../components/form-cell.tsx';
import { notReadyView } from '../../components/status-views.tsx';
import { toastError, toastSuccess } from '../../components/toast.ts';
import { WeuiButton } from '../../components/weui-button.tsx';
import { capitalized } from '../../forms/capitalized.ts';
import { checkNickname } from '../../forms/nickname.ts';
import { setProfile, useLoadedAppState } from '../../state/app-store.ts';
import './index.css';

/** Edit profile, the current WeChat way: chooseAvatar (uploaded at once) and the nickname input. */
export default function ProfilePage() {
  const state = useLoadedAppState();
  if (state.status !== 'ready') return notReadyView(state, 'Could not load your profile');
  return <ProfileForm profile={state.profile} />;
}

function ProfileForm({ profile }: { profile: Profile }) {
  const [draft, setDraft] = useState(profile.nickname ?? '');
  const [saving, setSaving] = useState(false);
  const [uploading, setUploading] = useState(false);
  /** The chosen picture, shown while it uploads. */
  const [preview, setPreview] = useState<string>();
  const [error, setError] = useState<{ field: 'avatar' | 'nickname'; message: string }>();

  // Another page changed the nickname (or it was saved): show it, unless the user is typing a new one.
  useEffect(() => setDraft(profile.nickname ?? ''), [profile.nickname]);

  const upload = async (filePath: string) => {
    if (uploading) return;
    setPreview(filePath);
    setUploading(true);
    setError(undefined);
    try {
      setProfile(await api.uploadAvatar(filePath));
      toastSuccess('Avatar saved');
    } catch (caught) {
      setError({ field: 'avatar', message: toastError(caught) });
    } finally {
      setUploading(false);
      setPreview(undefined);
    }
  };

  const save = async () => {
    if (saving) return;
    const checked = checkNickname(draft);
    if (!checked.ok) {
      setError({ field: 'nickname', message: capitalized(checked.message) });
      return;
    }
    setError(undefined);
    setSaving(true);
    try {
      setProfile(await api.client.updateProfile.mutate({ nickname: checked.nickname }));
      toastSuccess('Saved');
    } catch (caught) {
      setError({ field: 'nickname', message: toastError(caught) });
    } finally {
      setSaving(false);
    }
  };

  return (
    <View className='weui-form profile'>
      <View className='weui-form__bd'>
        <View className='weui-form__control-area profile__controls'>
          <View className='weui-cells__group weui-cells__group_form'>
            <View className='weui-cells weui-cells_form'>
              <View className='weui-cell weui-cell_access profile__avatar-cell'>
                <View className='weui-cell__bd'>
                  <Text>Avatar</Text>
                </View>
                <View className='weui-cell__ft weui-cell__ft_in-access'>
                  <Button className='profile__avatar-button' id='avatar-button' openType='chooseAvatar' onChooseAvatar={(e) => void upload((e.detail as { avatarUrl: string }).avatarUrl)}>
                    <Avatar url={preview ?? profile.avatarUrl} name={profile.nickname} size='medium' id='avatar' />
                    {uploading && (
                      <View className='profile__avatar-busy' id='avatar-uploading'>
                        <View className='weui-primary-loading weui-primary-loading_transparent'>
                          <View className='weui-primary-loading__dot' />
                        </View>
                      </View>
                    )}
                  </Button>
                  {process.env.TARO_ENV === 'h5' && (
                    // No chooseAvatar in a browser: a file input over the avatar, and the same upload.
                    <input
                      className='profile__avatar-file'
                      id='avatar-file'
                      type='file'
                      accept='image/png,image/jpeg,image/webp'
                      onChange={(event) => {
                        const file = event.currentTarget.files?.[0];
                        event.currentTarget.value = '';
                        if (!file) return;
                        const url = URL.createObjectURL(file);
                        void upload(url).finally(() => URL.revokeObjectURL(url));
                      }}
                    />
                  )}
                </View>
              </View>
              <FormCell label='Nickname' warn={error?.field === 'nickname'}>
                <Input
                  className='weui-input'
                  id='nickname-input'
                  type='nickname'
                  value={draft}
                  maxlength={32}
                  placeholder='Enter a nickname'
                  placeholderClass='weui-input__placeholder'
                  onInput={(e) => setDraft(e.detail.value)}
                  // WeChat's nickname suggestion may fill the field without an input event.
                  onBlur={(e) => setDraft(e.detail.value)}
                  onConfirm={() => void save()}
                />
              </FormCell>
            </View>
            <View className='profile__messages'>
              {error ? (
                <Text className='field-error' id={error.field === 'avatar' ? 'avatar-error' : 'nickname-error'}>
                  {error.message}
                </Text>
              ) : (
                <Text className='weui-cells__tips profile__tips'>Tap the avatar to choose a photo; it is saved at once. JPEG, PNG or WebP, up to 2 MB.</Text>
              )}
            </View>
          </View>
        </View>
        <View className='weui-form__opr-area'>
          <WeuiButton kind='primary' id='save' busy={saving} onClick={() => void save()}>
            Save
          </WeuiButton>
        </View>
      </View>
    </View>
  );
}
